// Runs an ONNX model with ONNX Runtime (onnxruntime-node) on the rows of a
// .npy input and writes every output as .npy: the comparison oracle for
// Kiln's ONNX import tests. Use run_ort.sh, which installs the package.
//
// usage: node run_ort.js MODEL.onnx INPUT.npy OUT_PREFIX
//            [--threads N] [--opt-level disabled|basic|extended|all]
//            [--optimized-model PATH]
//   writes OUT_PREFIX<output name>.npy for each model output, and prints a
//   JSON summary (outputs, shapes, ORT version) as its last line.
//   --optimized-model saves the graph ORT actually runs (after its QDQ
//   fusions) as ONNX.
//
// The input's first dimension is the batch. When the model's own batch
// dimension is fixed (resnet18: 1), the rows are fed that many at a time
// and the outputs concatenated.
'use strict';
const path = require('path');
const { readNpy, writeNpy, convert } = require('./npy.js');

const modules = process.env.KILN_ORT_NODE_MODULES ||
  path.join(__dirname, '..', '..', '.cache', 'ort', 'node_modules');
const ort = require(path.join(modules, 'onnxruntime-node'));

function parseArgs(argv) {
  const opts = { threads: 1, optLevel: 'all', optimizedModel: null, positional: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--threads') opts.threads = parseInt(argv[++i], 10);
    else if (a === '--opt-level') opts.optLevel = argv[++i];
    else if (a === '--optimized-model') opts.optimizedModel = argv[++i];
    else opts.positional.push(a);
  }
  if (opts.positional.length !== 3) {
    throw new Error('usage: run_ort.js MODEL.onnx INPUT.npy OUT_PREFIX [--threads N] ' +
                    '[--opt-level LEVEL] [--optimized-model PATH]');
  }
  return opts;
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const [modelPath, inputPath, prefix] = opts.positional;
  const sessionOptions = {
    intraOpNumThreads: opts.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: opts.optLevel, logSeverityLevel: 3,
  };
  if (opts.optimizedModel) sessionOptions.optimizedModelFilePath = opts.optimizedModel;
  const session = await ort.InferenceSession.create(modelPath, sessionOptions);
  if (session.inputNames.length !== 1) {
    throw new Error(`${modelPath}: ${session.inputNames.length} inputs; one is supported`);
  }
  const inputName = session.inputNames[0];
  const meta = session.inputMetadata[0];
  const x = readNpy(inputPath);
  const rows = x.shape[0];
  const perRow = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const fixedBatch = typeof meta.shape[0] === 'number' && meta.shape[0] > 0 ? meta.shape[0] : rows;
  if (rows % fixedBatch !== 0) {
    throw new Error(`${inputPath}: ${rows} rows is not a multiple of the model's ` +
                    `batch ${fixedBatch}`);
  }
  const data = convert(x.data, meta.type);
  const parts = {};
  for (let r = 0; r < rows; r += fixedBatch) {
    const feed = new ort.Tensor(meta.type, data.slice(r * perRow, (r + fixedBatch) * perRow),
                                [fixedBatch, ...x.shape.slice(1)]);
    const result = await session.run({ [inputName]: feed });
    for (const name of session.outputNames) {
      (parts[name] = parts[name] || []).push(result[name]);
    }
  }
  const version = ort.env.versions ? ort.env.versions.common : undefined;
  const summary = { model: modelPath, input: inputPath, rows, ort_version: version, outputs: {} };
  for (const name of session.outputNames) {
    const tensors = parts[name];
    const total = tensors.reduce((a, t) => a + t.data.length, 0);
    const out = new tensors[0].data.constructor(total);
    let at = 0;
    for (const t of tensors) { out.set(t.data, at); at += t.data.length; }
    const shape = [...tensors[0].dims];
    shape[0] = tensors.reduce((a, t) => a + t.dims[0], 0);
    const file = `${prefix}${name}.npy`;
    writeNpy(file, tensors[0].type, shape, out);
    summary.outputs[name] = { file, shape, type: tensors[0].type };
  }
  if (opts.optimizedModel) summary.optimized_model = opts.optimizedModel;
  console.log(JSON.stringify(summary));
}

main().catch((e) => {
  console.error(`run_ort.js: ${e.message || e}`);
  process.exit(1);
});
