/* Files and the golden byte serialization (docs/reliability.md).
 *
 * Every multi-byte value leaves and enters the runner explicitly
 * little-endian, element by element, never as a struct's or an array's raw
 * memory, so the hashed bytes are the same on every ABI:
 *   - outputs: graph output 0's n items, then output 1's, ...; int8/uint8
 *     bytes as they are, int32 and float32 (IEEE-754 bits) as 4 bytes LE;
 *   - decisions: n * num_heads records, item-major (as kiln_invoke fills
 *     them), each 35 int32 LE: class_id[0..15], score[0..15], k,
 *     confidence, fallback (140 bytes);
 *   - inputs: graph input 0's n items, then input 1's, ..., same element
 *     encoding as outputs. */
#ifndef KILN_TESTS_GOLDEN_GOLDEN_IO_H_
#define KILN_TESTS_GOLDEN_GOLDEN_IO_H_

#include <stddef.h>
#include <stdint.h>

#include "kiln/kiln.h"

/* Bytes of one serialized kiln_decision. */
#define GOLDEN_DECISION_BYTES (35 * 4)

/* Reads a whole file into 64-byte aligned memory (the runtime wants the
 * model 16-byte aligned). Returns NULL on any error; *len is its size. */
void* golden_read_file(const char* path, size_t* len);

/* Writes len bytes to path. Returns 0 on success. */
int golden_write_file(const char* path, const void* data, size_t len);

/* Bytes of one element of dtype. */
size_t golden_element_size(kiln_dtype dtype);

/* Copies `count` elements of dtype from host memory to little-endian bytes
 * (encode) or back (decode). */
void golden_encode(kiln_dtype dtype, const void* host, size_t count,
                   uint8_t* le);
void golden_decode(kiln_dtype dtype, const uint8_t* le, size_t count,
                   void* host);

/* Serializes `count` decisions as documented above into
 * count * GOLDEN_DECISION_BYTES bytes. */
void golden_encode_decisions(const kiln_decision* d, size_t count, uint8_t* le);

#endif /* KILN_TESTS_GOLDEN_GOLDEN_IO_H_ */
