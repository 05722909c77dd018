// Module hooks for the netron adapter (registered by adapter.mjs).
//
// netron's tf.js keeps its checkpoint reader, `tf.TensorBundle`, private: the
// module exports only its ModelFactory.  When Node loads tf.js from the
// installed netron wheel, this hook appends one line of OUR code to the source
// in memory, exporting the reader and a setter for the protobuf schema that
// ModelFactory.open() would otherwise install.  netron's files are never
// copied or changed on disk.

let netronTf = null;

export async function initialize(data) {
  netronTf = data.tfUrl;
}

export async function load(url, context, nextLoad) {
  const result = await nextLoad(url, context);
  if (url === netronTf) {
    const source = typeof result.source === 'string' ? result.source : new TextDecoder().decode(result.source);
    const exposed = source +
      '\nexport const __tfckpt = { TensorBundle: tf.TensorBundle, Utility: tf.Utility, ' +
      'setProto: (p) => { tf.proto = p; }, isNetronError: (e) => e instanceof tf.Error };\n';
    return { ...result, format: 'module', source: exposed, shortCircuit: true };
  }
  return result;
}
