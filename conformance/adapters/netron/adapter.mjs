// tfckpt conformance adapter for netron's TensorFlow checkpoint reader (JavaScript, Node.js >= 20.6).
//
// Speaks the line protocol of spec/conformance.md on stdin/stdout: one JSON
// request per line in, one JSON reply per line out; logs go to stderr.
//
// The implementation under test is netron's `tf.TensorBundle` (netron/tf.js),
// loaded at run time from the installed `netron` Python wheel -- found through
// $NETRON_DIR or `python -c "import netron"` -- and never copied here.  This
// file only translates: file paths in, netron's decoded entries (dtype enum,
// shape, raw tensor bytes) out as a description with `raw` data files.
//
// What is judged is what netron returns.  The adapter adds no checks of its
// own: an input netron accepts is reported as accepted.  netron's errors carry
// no category, so its deliberate rejections (tf.Error, and base.js's "Expected
// N more bytes" errors) are answered as category UNKNOWN; other JavaScript
// exceptions (TypeError, RangeError...) are answered as crashes.

import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { execFileSync } from 'node:child_process';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

function findNetron() {
  if (process.env.NETRON_DIR) {
    return process.env.NETRON_DIR;
  }
  for (const python of ['python', 'python3']) {
    try {
      const out = execFileSync(python, ['-c', 'import netron, os; print(os.path.dirname(netron.__file__))'],
        { encoding: 'utf-8', stdio: ['ignore', 'pipe', 'ignore'] });
      return out.trim();
    } catch {
      // try the next interpreter
    }
  }
  throw new Error('netron not found: pip install netron, or set NETRON_DIR to the netron package directory');
}

const netronDir = findNetron();
const tfUrl = pathToFileURL(path.join(netronDir, 'tf.js')).href;
register('./hooks.mjs', import.meta.url, { data: { tfUrl } });

const tfModule = await import(tfUrl);
const base = await import(pathToFileURL(path.join(netronDir, 'base.js')).href);
const tfProto = await import(pathToFileURL(path.join(netronDir, 'tf-proto.js')).href);
const { TensorBundle, setProto, isNetronError } = tfModule.__tfckpt;
setProto(tfProto);

let version = '';
try {
  // netron's Python package states its version in server.py: __version__ = "x.y.z"
  const server = fs.readFileSync(path.join(netronDir, 'server.py'), 'utf-8');
  const m = /__version__\s*=\s*['"]([^'"]+)['"]/.exec(server);
  version = m ? m[1] : '';
} catch {
  version = '';
}

// DataType enum numbers (tensorflow/core/framework/types.proto) -> TensorFlow's dtype names.
const DTYPE_NAMES = {
  1: 'float32', 2: 'float64', 3: 'int32', 4: 'uint8', 5: 'int16', 6: 'int8', 7: 'string', 8: 'complex64',
  9: 'int64', 10: 'bool', 11: 'qint8', 12: 'quint8', 13: 'qint32', 14: 'bfloat16', 15: 'qint16', 16: 'quint16',
  17: 'uint16', 18: 'complex128', 19: 'float16', 22: 'uint32', 23: 'uint64', 24: 'float8_e5m2',
  25: 'float8_e4m3fn', 26: 'float8_e4m3fnuz', 27: 'float8_e4m3b11fnuz', 28: 'float8_e5m2fnuz', 29: 'int4',
  30: 'uint4', 31: 'int2', 32: 'uint2', 33: 'float4_e2m1fn',
};
const WIDTH = {
  float32: 4, float64: 8, int32: 4, uint8: 1, int16: 2, int8: 1, complex64: 8, int64: 8, bool: 1, qint8: 1,
  quint8: 1, qint32: 4, bfloat16: 2, qint16: 2, quint16: 2, uint16: 2, complex128: 16, float16: 2, uint32: 4,
  uint64: 8, float8_e5m2: 1, float8_e4m3fn: 1, float8_e4m3fnuz: 1, float8_e4m3b11fnuz: 1, float8_e5m2fnuz: 1,
  int4: 1, uint4: 1, int2: 1, uint2: 1, float4_e2m1fn: 1,
};

class Rejection extends Error {
  constructor(category, message) {
    super(message);
    this.category = category;
  }
}

// A netron context: identifier + stream of one file, fetch() for its siblings.
function openContext(file) {
  const directory = path.dirname(file);
  const make = (name) => {
    const buffer = new Uint8Array(fs.readFileSync(path.join(directory, name)));
    return { identifier: name, stream: new base.BinaryStream(buffer) };
  };
  const errors = [];
  const context = {
    ...make(path.basename(file)),
    fetch: async (name) => make(name),
    error: (error) => errors.push(error),
  };
  return { context, errors };
}

async function openBundle(prefix) {
  let file = `${prefix}.index`;
  if (!fs.existsSync(file)) {
    if (fs.existsSync(prefix) && fs.statSync(prefix).isFile()) {
      file = prefix; // a V1 checkpoint is a single file
    } else {
      throw new Rejection('NOT_FOUND', `no ${file} and no V1 file ${prefix}`);
    }
  }
  const { context, errors } = openContext(file);
  const bundle = await TensorBundle.open(context.stream, context.identifier, context);
  if (errors.length > 0) {
    // netron reported a problem to its user (e.g. a missing data file) and carried on.
    throw new Rejection('UNKNOWN', `netron reported: ${errors.map((e) => e.message).join('; ')}`);
  }
  return bundle;
}

function shapeOf(tensorProto) {
  const shape = tensorProto.tensor_shape;
  if (!shape || !Array.isArray(shape.dim)) {
    return [];
  }
  return shape.dim.map((d) => Number(d.size || 0));
}

// The element bytes netron produced for one tensor (tensor_content for V2; *_val fields for V1).
function elementBytes(tensorProto, dtype, count) {
  if (tensorProto.tensor_content !== undefined && tensorProto.tensor_content !== null) {
    return Buffer.from(tensorProto.tensor_content);
  }
  const width = WIDTH[dtype];
  const pick = (name) => (Array.isArray(tensorProto[name]) ? tensorProto[name] : []);
  let values;
  const out = Buffer.alloc(count * width);
  const write = (fn) => values.forEach((v, i) => fn(v, i * width));
  switch (dtype) {
    case 'float32': values = pick('float_val'); write((v, o) => out.writeFloatLE(Number(v), o)); break;
    case 'float64': values = pick('double_val'); write((v, o) => out.writeDoubleLE(Number(v), o)); break;
    case 'int64': values = pick('int64_val'); write((v, o) => out.writeBigInt64LE(BigInt(v), o)); break;
    case 'uint64': values = pick('uint64_val'); write((v, o) => out.writeBigUInt64LE(BigInt(v), o)); break;
    case 'bool': values = pick('bool_val'); write((v, o) => out.writeUInt8(v ? 1 : 0, o)); break;
    case 'int32': case 'qint32': values = pick('int_val'); write((v, o) => out.writeInt32LE(Number(v), o)); break;
    case 'int16': case 'qint16': values = pick('int_val'); write((v, o) => out.writeInt16LE(Number(v), o)); break;
    case 'uint16': case 'quint16': values = pick('int_val'); write((v, o) => out.writeUInt16LE(Number(v) & 0xffff, o)); break;
    case 'int8': case 'qint8': values = pick('int_val'); write((v, o) => out.writeInt8(Number(v), o)); break;
    case 'uint8': case 'quint8': values = pick('int_val'); write((v, o) => out.writeUInt8(Number(v) & 0xff, o)); break;
    case 'float16': case 'bfloat16': values = pick('half_val'); write((v, o) => out.writeUInt16LE(Number(v) & 0xffff, o)); break;
    case 'uint32': values = pick('uint32_val'); write((v, o) => out.writeUInt32LE(Number(v), o)); break;
    default: values = [];
  }
  if (values.length === 1 && count > 1) {
    // TensorProto's repeated-last-value rule, as netron's Tensor.values applies it.
    const one = out.subarray(0, width);
    for (let i = 1; i < count; i++) {
      one.copy(out, i * width);
    }
  } else if (values.length !== count) {
    return null;
  }
  return out;
}

function keyText(name) {
  return name;
}

async function doRead(request) {
  const bundle = await openBundle(request.prefix);
  const out = request.out;
  fs.mkdirSync(path.join(out, 'raw'), { recursive: true });
  const tensors = [];
  let n = 0;
  for (const tensor of bundle.tensors) {
    const proto = tensor._tensor;
    const dtype = DTYPE_NAMES[proto.dtype];
    if (dtype === undefined) {
      throw new Rejection('UNKNOWN', `netron returned tensor ${JSON.stringify(tensor.name)} with dtype enum ${proto.dtype}, which has no TensorFlow name`);
    }
    const shape = shapeOf(proto);
    const count = shape.reduce((a, b) => a * b, 1);
    if (dtype === 'string') {
      throw new Rejection('UNKNOWN', `netron does not decode string tensors: it returned ${proto.tensor_content ? proto.tensor_content.length : 0} undecoded bytes for ${JSON.stringify(tensor.name)}`);
    }
    const bytes = elementBytes(proto, dtype, count);
    const expected = count * WIDTH[dtype];
    if (bytes === null || bytes.length !== expected) {
      throw new Rejection('UNKNOWN', `netron returned ${bytes === null ? 'no' : bytes.length} data bytes for ${JSON.stringify(tensor.name)} (${dtype} ${JSON.stringify(shape)} has ${expected})`);
    }
    const raw = `raw/t${n}.bin`;
    n += 1;
    fs.writeFileSync(path.join(out, raw), bytes);
    tensors.push({ key: keyText(tensor.name), dtype, shape, raw });
  }
  fs.writeFileSync(path.join(out, 'description.json'), JSON.stringify({ format: 'tfckpt-description/1', tensors }));
  return { status: 'ok' };
}

async function doList(request) {
  const bundle = await openBundle(request.prefix);
  const tensors = bundle.tensors.map((tensor) => ({
    key: keyText(tensor.name),
    dtype: DTYPE_NAMES[tensor._tensor.dtype] || `enum:${tensor._tensor.dtype}`,
    shape: shapeOf(tensor._tensor),
  }));
  return { status: 'ok', tensors };
}

const FEATURES = [
  ...Object.keys(WIDTH).map((name) => `dtype:${name}`),
  'string', 'sliced', 'multi_shard', 'v1', 'object_graph', 'snappy', 'big_endian', 'zero_size', 'scalar',
];

async function handle(request) {
  switch (request.op) {
    case 'hello':
      return {
        status: 'ok', protocol: 'tfckpt-conformance/1', name: 'netron', version,
        operations: ['read', 'list'], features: FEATURES,
      };
    case 'read':
      return doRead(request);
    case 'list':
      return doList(request);
    case 'shutdown':
      return { status: 'ok' };
    default:
      return { status: 'unsupported', message: `netron has no ${request.op}` };
  }
}

function answer(error) {
  if (error instanceof Rejection) {
    return { status: 'error', category: error.category, message: error.message };
  }
  if (isNetronError(error) || (error && error.constructor === Error)) {
    // netron's deliberate rejections: tf.Error and base.js's plain Errors.
    return { status: 'error', category: 'UNKNOWN', message: `netron: ${error.message}` };
  }
  return { status: 'crash', message: `${error && error.name}: ${error && error.message}\n${error && error.stack}` };
}

const lines = readline.createInterface({ input: process.stdin, terminal: false });
for await (const line of lines) {
  if (!line.trim()) {
    continue;
  }
  const request = JSON.parse(line);
  let reply;
  try {
    reply = await handle(request);
  } catch (error) {
    reply = answer(error);
  }
  process.stdout.write(`${JSON.stringify({ id: request.id, ...reply })}\n`);
  if (request.op === 'shutdown') {
    break;
  }
}
