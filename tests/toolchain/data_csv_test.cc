// The CSV tokenizer and the tabular data source: the accepted variations
// (quotes, CRLF, BOM, blank lines) and every error, with file:line.
#include <gtest/gtest.h>
#include <locale.h>

#include <cmath>
#include <string>
#include <vector>

#include "tests/toolchain/data_test_util.h"
#include "toolchain/data/csv_reader.h"
#include "toolchain/data/sources.h"

namespace kiln {
namespace data {
namespace {

using ::kiln::testing::ScratchDir;
using ::kiln::testing::WriteBytes;
using ::kiln::testing::WriteGzip;

struct Record {
  int64_t line;
  std::vector<std::string> fields;
  bool operator==(const Record& o) const {
    return line == o.line && fields == o.fields;
  }
};

void PrintTo(const Record& r, std::ostream* os) {
  *os << r.line << ":";
  for (const std::string& f : r.fields) *os << " [" << f << "]";
}

// Tokenizes all of `text`; *error is set if it stopped on one.
std::vector<Record> Tokenize(const std::string& text,
                             std::string* error = nullptr) {
  CsvTokenizer tokenizer("t.csv", text);
  std::vector<Record> records;
  Record r;
  std::string e;
  for (;;) {
    const CsvTokenizer::Status s = tokenizer.Next(&r.fields, &r.line, &e);
    if (s == CsvTokenizer::Status::kEnd) break;
    if (s == CsvTokenizer::Status::kError) {
      if (error != nullptr)
        *error = e;
      else
        ADD_FAILURE() << e;
      break;
    }
    records.push_back(r);
  }
  return records;
}

TEST(DataCsvTest, TokenizerHandlesQuotesCrlfBomAndBlankLines) {
  const std::string text =
      "\xEF\xBB\xBF"
      "a,b,c\r\n"
      "\r\n"
      "1, \"x,y\" ,3\r\n"
      "   \n"
      "\"say \"\"hi\"\"\",,\"two\nlines\"\n"
      "  spaced  ,\"\",last";
  const std::vector<Record> expected = {
      {1, {"a", "b", "c"}},
      {3, {"1", "x,y", "3"}},
      {5, {"say \"hi\"", "", "two\nlines"}},
      {7, {"spaced", "", "last"}},
  };
  EXPECT_EQ(Tokenize(text), expected);
}

TEST(DataCsvTest, TokenizerEdgeCases) {
  EXPECT_TRUE(Tokenize("").empty());
  EXPECT_TRUE(Tokenize("\xEF\xBB\xBF").empty());
  EXPECT_TRUE(Tokenize("\n\r\n  \n").empty());
  EXPECT_EQ(Tokenize("a,"), (std::vector<Record>{{1, {"a", ""}}}));
  EXPECT_EQ(Tokenize("a\n\n\nb\n"),
            (std::vector<Record>{{1, {"a"}}, {4, {"b"}}}));
  EXPECT_EQ(Tokenize("\"q\"\r\n\"r\""),
            (std::vector<Record>{{1, {"q"}}, {2, {"r"}}}));
  std::string error;
  Tokenize("a\nb,\"open\nnever closed\n", &error);
  EXPECT_EQ(error,
            "t.csv:2: unterminated quoted field (field 2): the closing quote "
            "is missing");
  Tokenize("a\n\"x\"y,z\n", &error);
  EXPECT_EQ(error,
            "t.csv:2: unexpected 'y' after the closing quote of field 1 (a "
            "quote inside a quoted field is written \"\")");
}

TEST(DataCsvTest, ParseFloatIsStrictAndLocaleIndependent) {
  float v = 0;
  std::string why;
  EXPECT_TRUE(ParseCsvFloat(" 1.5 ", &v, &why));
  EXPECT_EQ(v, 1.5f);
  EXPECT_TRUE(ParseCsvFloat("+2e-3", &v, &why));
  EXPECT_EQ(v, 2e-3f);
  EXPECT_TRUE(ParseCsvFloat("-.25", &v, &why));
  EXPECT_EQ(v, -0.25f);
  EXPECT_TRUE(ParseCsvFloat("7", &v, &why));
  EXPECT_EQ(v, 7.0f);
  EXPECT_FALSE(ParseCsvFloat("nan", &v, &why));
  EXPECT_EQ(why, "is NaN");
  EXPECT_FALSE(ParseCsvFloat("-Inf", &v, &why));
  EXPECT_EQ(why, "is infinite");
  EXPECT_FALSE(ParseCsvFloat("", &v, &why));
  EXPECT_EQ(why, "is empty");
  EXPECT_FALSE(ParseCsvFloat("1,5", &v, &why));
  EXPECT_EQ(why, "is not a number: '1,5'");
  EXPECT_FALSE(ParseCsvFloat("0x10", &v, &why));
  EXPECT_FALSE(ParseCsvFloat("1.5.2", &v, &why));
  EXPECT_FALSE(ParseCsvFloat("+-1", &v, &why));
  EXPECT_FALSE(ParseCsvFloat("abc", &v, &why));
  EXPECT_FALSE(ParseCsvFloat("1e999", &v, &why));
  EXPECT_EQ(why, "is out of range: '1e999'");
  EXPECT_FALSE(ParseCsvFloat("1e39", &v, &why));
  EXPECT_EQ(why, "is outside the float32 range: '1e39'");

  // A locale with a decimal comma, if the system has one, changes nothing.
  const char* old = setlocale(LC_NUMERIC, nullptr);
  const std::string saved = old != nullptr ? old : "C";
  for (const char* name : {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8"}) {
    if (setlocale(LC_NUMERIC, name) != nullptr) break;
  }
  EXPECT_TRUE(ParseCsvFloat("3.25", &v, &why));
  EXPECT_EQ(v, 3.25f);
  EXPECT_FALSE(ParseCsvFloat("3,25", &v, &why));
  setlocale(LC_NUMERIC, saved.c_str());
}

TEST(DataCsvTest, ParseInt) {
  int64_t v = 0;
  std::string why;
  EXPECT_TRUE(ParseCsvInt(" 16", 0, 16, &v, &why));
  EXPECT_EQ(v, 16);
  EXPECT_TRUE(ParseCsvInt("+3", 0, 16, &v, &why));
  EXPECT_EQ(v, 3);
  EXPECT_FALSE(ParseCsvInt("17", 0, 16, &v, &why));
  EXPECT_EQ(why, "is '17', outside 0 to 16");
  EXPECT_FALSE(ParseCsvInt("1.0", 0, 16, &v, &why));
  EXPECT_EQ(why, "is not an integer: '1.0'");
  EXPECT_FALSE(ParseCsvInt("99999999999999999999", 0, 16, &v, &why));
  EXPECT_FALSE(ParseCsvInt("", 0, 16, &v, &why));
}

class DataCsvFileTest : public ::testing::Test {
 protected:
  // Writes `text` to data.csv and loads it; returns the error ("" if it
  // loaded, the dataset then in d_).
  std::string Load(const std::string& text, const CsvOptions& options) {
    WriteBytes(path_, text);
    std::string error;
    if (LoadCsv(path_, options, &d_, &error)) {
      std::string check;
      EXPECT_TRUE(CheckDataset(d_, &check)) << check;
      return "";
    }
    EXPECT_EQ(d_.size(), 0u);
    return error.empty() ? "(empty error)" : error;
  }
  std::string Label(const std::string& text, const std::string& col = "y") {
    CsvOptions options;
    options.label_column = col;
    return Load(text, options);
  }

  ScratchDir dir_;
  const std::string path_ = dir_.Path("data.csv");
  Dataset d_;
};

TEST_F(DataCsvFileTest, LoadsClassification) {
  ASSERT_EQ(Label("x1,y,x2\n1.5,cat,2\n-3,dog,4e1\n0,cat,0.25\n"), "");
  EXPECT_EQ(d_.name, "data.csv");
  EXPECT_EQ(d_.task, Task::kClassification);
  EXPECT_EQ(d_.feature_type, FeatureType::kFloat32);
  EXPECT_EQ(d_.item_shape, std::vector<int32_t>{2});
  EXPECT_EQ(d_.f32, (std::vector<float>{1.5f, 2, -3, 40, 0, 0.25f}));
  EXPECT_EQ(d_.class_names, (std::vector<std::string>{"cat", "dog"}));
  EXPECT_EQ(d_.labels, (std::vector<int32_t>{0, 1, 0}));
  EXPECT_EQ(d_.origins, (std::vector<std::string>{path_ + ":2", path_ + ":3",
                                                  path_ + ":4"}));
  EXPECT_EQ(d_.source_splits, std::vector<Split>(3, Split::kNone));
  EXPECT_TRUE(d_.u8.empty());
}

TEST_F(DataCsvFileTest, ClassIdsFollowSortedOrder) {
  ASSERT_EQ(Label("x,y\n1,zebra\n2,Apple\n3,mango\n4,apple\n"), "");
  EXPECT_EQ(d_.class_names,
            (std::vector<std::string>{"Apple", "apple", "mango", "zebra"}));
  EXPECT_EQ(d_.labels, (std::vector<int32_t>{3, 0, 2, 1}));
  // Integer labels sort numerically: "2" before "10".
  ASSERT_EQ(Label("x,y\n1,10\n2,2\n3,-1\n4,2\n"), "");
  EXPECT_EQ(d_.class_names, (std::vector<std::string>{"-1", "2", "10"}));
  EXPECT_EQ(d_.labels, (std::vector<int32_t>{2, 1, 0, 1}));
}

TEST_F(DataCsvFileTest, LoadsRegressionWithTargetsInOptionOrder) {
  CsvOptions options;
  options.target_columns = {"t2", "t1"};
  ASSERT_EQ(Load("t1,a,t2,b\n1,2,3,4\n5,6,7,8\n", options), "");
  EXPECT_EQ(d_.task, Task::kRegression);
  EXPECT_EQ(d_.target_dim, 2);
  EXPECT_EQ(d_.targets, (std::vector<float>{3, 1, 7, 5}));
  EXPECT_EQ(d_.f32, (std::vector<float>{2, 4, 6, 8}));
  EXPECT_TRUE(d_.labels.empty());
  EXPECT_TRUE(d_.class_names.empty());
}

TEST_F(DataCsvFileTest, AcceptsQuotedCrlfBomBlankLinesAndNoFinalNewline) {
  // Text after a closing quote is an error, on the right line.
  EXPECT_EQ(Label("\xEF\xBB\xBFx,y\r\n\r\n\"1,0\"x,a\r\n"),
            path_ +
                ":3: unexpected 'x' after the closing quote of field 1 (a "
                "quote inside a quoted field is written \"\")");
  EXPECT_EQ(Label("\xEF\xBB\xBF\"x 1\",\"y\"\r\n\r\n\"1.0\",a\r\n"
                  "2,\"b, with comma\"\r\n\r\n3,a"),
            "");
  EXPECT_EQ(d_.f32, (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(d_.class_names, (std::vector<std::string>{"a", "b, with comma"}));
  EXPECT_EQ(d_.origins.back(), path_ + ":6");
}

TEST_F(DataCsvFileTest, LoadsAWideGzipFile) {
  // 160 features and a label, like the tabular datasets the toolchain eats.
  std::string text;
  for (int c = 0; c < 160; ++c) text += "f" + std::to_string(c) + ",";
  text += "label\n";
  for (int r = 0; r < 50; ++r) {
    for (int c = 0; c < 160; ++c) text += std::to_string(r * 0.5 + c) + ",";
    text += (r % 3 == 0 ? "yes\n" : "no\n");
  }
  const std::string path = dir_.Path("wide.csv.gz");
  WriteGzip(path, text);
  CsvOptions options;
  options.label_column = "label";
  std::string error;
  ASSERT_TRUE(LoadCsv(path, options, &d_, &error)) << error;
  ASSERT_EQ(d_.size(), 50u);
  EXPECT_EQ(d_.item_shape, std::vector<int32_t>{160});
  EXPECT_EQ(d_.f32[49 * 160 + 159], 49 * 0.5f + 159);
  EXPECT_EQ(d_.labels[3], 1);
  EXPECT_EQ(d_.labels[4], 0);
}

TEST_F(DataCsvFileTest, WrongFieldCountNamesFileAndLine) {
  EXPECT_EQ(Label("a,b,y\n1,2,p\n\n3,4,q\n5,6\n"),
            path_ + ":5: expected 3 fields, found 2");
  EXPECT_EQ(Label("a,b,y\n1,2,p,4\n"),
            path_ + ":2: expected 3 fields, found 4");
  // A quoted field spanning lines: the record's first line is named, and
  // the following lines are counted.
  EXPECT_EQ(Label("a,y\n1,\"multi\nline\"\n2\n"),
            path_ + ":4: expected 2 fields, found 1");
}

TEST_F(DataCsvFileTest, BadValuesNameFileLineAndColumn) {
  EXPECT_EQ(Label("x1,x2,x3,y\n1,2,3,a\n4,5,NaN,b\n"),
            path_ + ":3: column 'x3' is NaN");
  EXPECT_EQ(Label("x1,y\n1,a\n\n\ninf,b\n"),
            path_ + ":5: column 'x1' is infinite");
  EXPECT_EQ(Label("x1,y\n1,a\n-1e400,b\n"),
            path_ + ":3: column 'x1' is out of range: '-1e400'");
  EXPECT_EQ(Label("x1,y\n1,a\nabc,b\n"),
            path_ + ":3: column 'x1' is not a number: 'abc'");
  EXPECT_EQ(Label("x1,y\n1,a\n,b\n"), path_ + ":3: column 'x1' is empty");
  EXPECT_EQ(Label("x1,y\n1,a\n2,\n"), path_ + ":3: label column 'y' is empty");
  CsvOptions options;
  options.target_columns = {"t"};
  EXPECT_EQ(Load("x,t\n1,2\n3,nan\n", options),
            path_ + ":3: target column 't' is NaN");
}

TEST_F(DataCsvFileTest, StructuralErrors) {
  EXPECT_EQ(Label(""), path_ + ": empty file (a header row is required)");
  EXPECT_EQ(Label("\xEF\xBB\xBF\r\n\n"),
            path_ + ": empty file (a header row is required)");
  EXPECT_EQ(Label("x,y\n"), path_ + ": no data rows after the header");
  EXPECT_EQ(Label("x,label\n1,a\n", "y"),
            path_ +
                ":1: no column 'y' in the header (the columns are 'x', "
                "'label')");
  EXPECT_EQ(Label("x,y\n1,a\n2,a\n"),
            path_ +
                ": label column 'y' has only one class ('a'); "
                "classification needs at least two");
  EXPECT_EQ(Label("x,y,x\n1,a,2\n"),
            path_ +
                ":1: column 'x' appears twice in the header (fields 1 "
                "and 3)");
  EXPECT_EQ(Label("x,,y\n1,2,a\n"),
            path_ +
                ":1: field 2 of the header is empty (every column needs "
                "a name)");
  EXPECT_EQ(Label("y\na\nb\n"),
            path_ +
                ":1: no feature columns (every column is a label or a "
                "target)");
  EXPECT_EQ(Label("x,y\n1,\"a\n"),
            path_ +
                ":2: unterminated quoted field (field 2): the closing "
                "quote is missing");
  CsvOptions both;
  both.label_column = "y";
  both.target_columns = {"x"};
  EXPECT_NE(Load("x,y\n1,a\n", both).find("not both"), std::string::npos);
  EXPECT_NE(Load("x,y\n1,a\n", CsvOptions()).find("not neither"),
            std::string::npos);
  CsvOptions twice;
  twice.target_columns = {"t", "t"};
  EXPECT_NE(Load("x,t\n1,2\n", twice).find("named twice"), std::string::npos);

  std::string error;
  CsvOptions options;
  options.label_column = "y";
  EXPECT_FALSE(LoadCsv(dir_.Path("missing.csv"), options, &d_, &error));
  EXPECT_EQ(error, dir_.Path("missing.csv") +
                       ": cannot open: No such file or directory");
}

TEST_F(DataCsvFileTest, BinaryGarbageIsAnErrorNotACrash) {
  std::string garbage = "x,y\n";
  for (int i = 0; i < 4096; ++i) {
    garbage += static_cast<char>((i * 2654435761u) >> 24);
  }
  const std::string error = Label(garbage);
  EXPECT_EQ(error.rfind(path_ + ":", 0), 0u) << error;
}

}  // namespace
}  // namespace data
}  // namespace kiln
