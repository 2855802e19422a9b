// Minimal .npy reading and writing for the ONNX Runtime runner: format
// versions 1.0-3.0, C order, little-endian float32/float64/uint8/int8/
// int32/int64 (the types the Kiln test models use).
'use strict';
const fs = require('fs');

const DTYPES = {
  // descr -> [ORT tensor type, TypedArray]
  '<f4': ['float32', Float32Array],
  '<f8': ['float64', Float64Array],
  '|u1': ['uint8', Uint8Array],
  '|i1': ['int8', Int8Array],
  '<i4': ['int32', Int32Array],
  '<i8': ['int64', BigInt64Array],
};
const DESCR_OF = {};
for (const [descr, [type]] of Object.entries(DTYPES)) DESCR_OF[type] = descr;

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new Error(`${path}: not a .npy file`);
  }
  const major = buf[6];
  let headerLength, start;
  if (major === 1) {
    headerLength = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLength = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw new Error(`${path}: unsupported .npy version ${major}`);
  }
  const header = buf.toString('latin1', start, start + headerLength);
  const descr = /'descr':\s*'([^']*)'/.exec(header);
  const fortran = /'fortran_order':\s*(True|False)/.exec(header);
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeText) throw new Error(`${path}: bad header ${header}`);
  if (fortran[1] === 'True') throw new Error(`${path}: Fortran order is not supported`);
  let code = descr[1];
  if (code === '<u1' || code === '>u1') code = '|u1';
  if (code === '<i1' || code === '>i1') code = '|i1';
  if (!(code in DTYPES)) throw new Error(`${path}: unsupported dtype ${descr[1]}`);
  const shape = shapeText[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const [type, Array_] = DTYPES[code];
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLength;
  if (buf.length - offset !== count * Array_.BYTES_PER_ELEMENT) {
    throw new Error(`${path}: data size ${buf.length - offset} does not match shape [${shape}]`);
  }
  // copy: the typed array must be aligned
  const size = count * Array_.BYTES_PER_ELEMENT;
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset + offset, size);
  const data = new Array_(count);
  new Uint8Array(data.buffer).set(bytes);
  return { type, shape, data };
}

function writeNpy(path, type, shape, data) {
  const descr = DESCR_OF[type];
  if (!descr) throw new Error(`cannot write a ${type} tensor as .npy`);
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  while ((10 + header.length + 1) % 64 !== 0) header += ' ';
  header += '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  fs.writeFileSync(path, Buffer.concat([pre, Buffer.from(header, 'latin1'), body]));
}

// A TypedArray of `type` holding `data` (a TypedArray of any numeric type).
function convert(data, type) {
  const entry = Object.values(DTYPES).find(([t]) => t === type);
  if (!entry) throw new Error(`cannot feed a ${type} input`);
  const Array_ = entry[1];
  if (data instanceof Array_) return data;
  const out = new Array_(data.length);
  const big = Array_ === BigInt64Array;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    out[i] = big ? BigInt(Math.round(Number(v))) : Number(v);
  }
  return out;
}

module.exports = { readNpy, writeNpy, convert };
