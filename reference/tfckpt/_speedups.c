/* tfckpt._speedups: optional C versions of the hot loops of the reader and writer.
 *
 * Strategy
 * --------
 * The pure-Python modules are the reference and stay complete on their own.
 * Each function here does the same job as one Python function.  The readers
 * handle the well-formed case only, and answer None for anything they do not fully
 * understand: a varint longer than TensorFlow writes, an entry out of the
 * canonical form, a restart point off an entry boundary, a key out of order.
 * The caller then runs the Python code on the same bytes, which either
 * accepts them or raises the precise tfckpt error.  So the accelerator never
 * decides an error, never changes what is accepted, and the two paths agree
 * by construction wherever this code says yes.  The two writers produce
 * bytes, the same bytes as their Python twins (tests/test_speedups.py
 * compares every pair on TensorFlow's files and on random input).
 *
 * Functions, each mirroring the Python it stands in for:
 *
 *   block_entries(data, entries_end, restarts, lower, upper)
 *       tfckpt.table.block.Block.iter_from_restart(0) plus the key-range check
 *       of TableReader._walk: a list of (key, value) bytes pairs.
 *
 *       entry:  shared varint32 | non_shared varint32 | value_len varint32 |
 *               key_delta[non_shared] | value[value_len]
 *
 *   entry_fields(value)
 *       tfckpt.bundle.entry_fields.decode_entry_fields: (dtype, dims,
 *       shard_id, offset, size, crc32c) of a canonical BundleEntryProto.
 *
 *       08 dtype | 12 len (12 len [08 size])* | 18 shard | 20 offset |
 *       28 size | 35 crc32c fixed32
 *
 *   encode_entry(dtype, dims, shard_id, offset, size, crc32c)
 *       tfckpt.bundle.entry_fields.encode_entry_fields: the same layout, written
 *       (the one function here that produces bytes; equal to protobuf's).
 *
 *   block_append(buffer, previous_key, key, value)
 *       the byte-writing half of tfckpt.table.block.BlockBuilder.add.
 *
 *   split_strings(buffer, count, big_endian)
 *       the length half of tfckpt.bundle.data_layout.decode_strings:
 *       (elements, lengths_end, fixed-width lengths as bytes) when every
 *       length fits in 32 bits and the lengths and elements fill the buffer
 *       exactly after the 4-byte length checksum.
 *
 *       varint64 length * count | masked crc32c fixed32 | bytes of each element
 *
 * TFCKPT_PURE_PYTHON=1 in the environment keeps tfckpt from importing this
 * module (tfckpt/accel.py).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define INT32_MAX_ ((uint64_t)0x7FFFFFFF)
#define INT64_MAX_ ((uint64_t)0x7FFFFFFFFFFFFFFFULL)

/* A varint of at most `max_bytes` bytes at p[0..end); 0 when truncated or longer.
 * With max_bytes 5 the value must also fit in 32 bits, with 10 in 64 bits. */
static int
read_varint(const uint8_t *data, Py_ssize_t *pos, Py_ssize_t end, int max_bytes, uint64_t *out)
{
    uint64_t result = 0;
    Py_ssize_t p = *pos;
    for (int i = 0; i < max_bytes; i++) {
        if (p >= end)
            return 0;
        uint8_t byte = data[p++];
        if (i == 4 && max_bytes == 5 && byte > 0x0F)
            return 0; /* more than 32 bits */
        if (i == 9 && byte > 0x01)
            return 0; /* more than 64 bits */
        result |= (uint64_t)(byte & 0x7F) << (7 * i);
        if (byte < 0x80) {
            *pos = p;
            *out = result;
            return 1;
        }
    }
    return 0;
}

static int
compare_keys(const uint8_t *a, Py_ssize_t alen, const uint8_t *b, Py_ssize_t blen)
{
    Py_ssize_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, (size_t)n) : 0;
    if (c)
        return c;
    return (alen > blen) - (alen < blen);
}

/* ------------------------------------------------------------ block_entries */

static PyObject *
block_entries(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t entries_end;
    PyObject *restarts, *lower, *upper;
    if (!PyArg_ParseTuple(args, "y*nOOO", &view, &entries_end, &restarts, &lower, &upper))
        return NULL;
    PyObject *result = NULL, *restart_seq = NULL;
    uint8_t *key = NULL;
    const uint8_t *data = (const uint8_t *)view.buf;
    Py_ssize_t key_len = 0, key_cap = 0;
    if (entries_end < 0 || entries_end > view.len || (lower != Py_None && !PyBytes_Check(lower))
        || (upper != Py_None && !PyBytes_Check(upper)))
        goto refuse;
    restart_seq = PySequence_Fast(restarts, "restarts must be a sequence");
    if (restart_seq == NULL)
        goto fail;
    Py_ssize_t count = PySequence_Fast_GET_SIZE(restart_seq);
    PyObject **items = PySequence_Fast_ITEMS(restart_seq);
    result = PyList_New(0);
    if (result == NULL)
        goto fail;
    if (entries_end == 0)
        goto done;
    Py_ssize_t pos = 0, next_restart = 0;
    if (count == 0)
        goto refuse;
    {
        Py_ssize_t target = PyLong_AsSsize_t(items[0]);
        if (target == -1 && PyErr_Occurred())
            goto fail;
        if (target < 0 || target >= entries_end)
            goto refuse; /* Block checks this before any walk; never trust it here */
        pos = target;
    }
    int first = 1;
    while (pos < entries_end) {
        Py_ssize_t entry_pos = pos;
        uint64_t shared, non_shared, value_len;
        if (!read_varint(data, &pos, entries_end, 5, &shared) || !read_varint(data, &pos, entries_end, 5, &non_shared)
            || !read_varint(data, &pos, entries_end, 5, &value_len))
            goto refuse;
        if (non_shared + value_len > (uint64_t)(entries_end - pos))
            goto refuse;
        if (next_restart < count) {
            Py_ssize_t target = PyLong_AsSsize_t(items[next_restart]);
            if (target == -1 && PyErr_Occurred())
                goto fail;
            if (entry_pos == target) {
                if (shared != 0)
                    goto refuse;
                next_restart++;
            } else if (entry_pos > target) {
                goto refuse;
            }
        }
        if (shared > (uint64_t)key_len)
            goto refuse;
        Py_ssize_t new_len = (Py_ssize_t)shared + (Py_ssize_t)non_shared;
        const uint8_t *delta = data + pos;
        /* compare the new key with the previous one before overwriting it */
        if (!first) {
            /* the first `shared` bytes are equal; compare the rest */
            Py_ssize_t rest_old = key_len - (Py_ssize_t)shared;
            int c = compare_keys(delta, (Py_ssize_t)non_shared, key + shared, rest_old);
            if (c <= 0)
                goto refuse;
        }
        if (new_len > key_cap) {
            Py_ssize_t cap = key_cap ? key_cap : 64;
            while (cap < new_len)
                cap *= 2;
            uint8_t *grown = PyMem_Realloc(key, (size_t)cap);
            if (grown == NULL) {
                PyErr_NoMemory();
                goto fail;
            }
            key = grown;
            key_cap = cap;
        }
        if (non_shared)
            memcpy(key + shared, delta, (size_t)non_shared);
        key_len = new_len;
        first = 0;
        if (lower != Py_None
            && compare_keys(key, key_len, (const uint8_t *)PyBytes_AS_STRING(lower), PyBytes_GET_SIZE(lower)) <= 0)
            goto refuse;
        if (upper != Py_None
            && compare_keys(key, key_len, (const uint8_t *)PyBytes_AS_STRING(upper), PyBytes_GET_SIZE(upper)) > 0)
            goto refuse;
        Py_ssize_t value_start = pos + (Py_ssize_t)non_shared;
        pos = value_start + (Py_ssize_t)value_len;
        /* the first key may be empty, before any allocation of `key` */
        PyObject *pair = PyTuple_New(2);
        if (pair == NULL)
            goto fail;
        PyObject *key_object = PyBytes_FromStringAndSize(key ? (const char *)key : "", key_len);
        PyObject *value_object = PyBytes_FromStringAndSize((const char *)data + value_start, (Py_ssize_t)value_len);
        if (key_object == NULL || value_object == NULL) {
            Py_XDECREF(key_object);
            Py_XDECREF(value_object);
            Py_DECREF(pair);
            goto fail;
        }
        PyTuple_SET_ITEM(pair, 0, key_object);
        PyTuple_SET_ITEM(pair, 1, value_object);
        int appended = PyList_Append(result, pair);
        Py_DECREF(pair);
        if (appended < 0)
            goto fail;
    }
    if (next_restart < count)
        goto refuse;
done:
    Py_XDECREF(restart_seq);
    PyMem_Free(key);
    PyBuffer_Release(&view);
    return result;
refuse:
    Py_XDECREF(result);
    Py_XDECREF(restart_seq);
    PyMem_Free(key);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
fail:
    Py_XDECREF(result);
    Py_XDECREF(restart_seq);
    PyMem_Free(key);
    PyBuffer_Release(&view);
    return NULL;
}

/* ------------------------------------------------------------- entry_fields */

static PyObject *
entry_fields(PyObject *self, PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    const uint8_t *data = (const uint8_t *)view.buf;
    Py_ssize_t end = view.len, pos = 0;
    uint64_t values[6] = {0, 0, 0, 0, 0, 0};
    uint64_t dims[64];
    Py_ssize_t ndims = 0;
    unsigned last_field = 0;
    PyObject *result = NULL;
    while (pos < end) {
        uint8_t tag = data[pos++];
        unsigned field = tag >> 3;
        if (field <= last_field || (tag & 0x80))
            goto refuse;
        last_field = field;
        if (tag == 0x12) {
            uint64_t length;
            if (!read_varint(data, &pos, end, 10, &length) || length > (uint64_t)(end - pos))
                goto refuse;
            Py_ssize_t shape_end = pos + (Py_ssize_t)length;
            while (pos < shape_end) {
                if (data[pos] != 0x12)
                    goto refuse;
                pos++;
                uint64_t dim_length;
                if (!read_varint(data, &pos, shape_end, 10, &dim_length) || dim_length > (uint64_t)(shape_end - pos))
                    goto refuse;
                Py_ssize_t dim_end = pos + (Py_ssize_t)dim_length;
                uint64_t size = 0;
                if (dim_length) {
                    if (data[pos] != 0x08)
                        goto refuse;
                    pos++;
                    if (!read_varint(data, &pos, dim_end, 10, &size) || pos != dim_end || size > INT64_MAX_)
                        goto refuse;
                }
                if (ndims == 64)
                    goto refuse; /* far beyond TensorFlow's rank limit: the Python path says so */
                dims[ndims++] = size;
                pos = dim_end;
            }
            continue;
        }
        if (tag == 0x35) {
            if (end - pos < 4)
                goto refuse;
            values[5] = (uint64_t)data[pos] | ((uint64_t)data[pos + 1] << 8) | ((uint64_t)data[pos + 2] << 16)
                        | ((uint64_t)data[pos + 3] << 24);
            pos += 4;
            continue;
        }
        if (field > 5 || (tag & 7) || field == 2)
            goto refuse;
        uint64_t value;
        if (!read_varint(data, &pos, end, 10, &value) || value > (field >= 4 ? INT64_MAX_ : INT32_MAX_))
            goto refuse;
        values[field - 1] = value;
    }
    PyObject *shape = PyTuple_New(ndims);
    if (shape == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < ndims; i++) {
        PyObject *size = PyLong_FromUnsignedLongLong(dims[i]);
        if (size == NULL) {
            Py_DECREF(shape);
            goto fail;
        }
        PyTuple_SET_ITEM(shape, i, size);
    }
    result = PyTuple_New(6);
    if (result == NULL) {
        Py_DECREF(shape);
        goto fail;
    }
    PyTuple_SET_ITEM(result, 1, shape);
    for (int i = 0; i < 6; i++) {
        if (i == 1)
            continue;
        PyObject *number = PyLong_FromUnsignedLongLong(values[i]);
        if (number == NULL) {
            Py_DECREF(result);
            goto fail;
        }
        PyTuple_SET_ITEM(result, i, number);
    }
    PyBuffer_Release(&view);
    return result;
refuse:
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
fail:
    PyBuffer_Release(&view);
    return NULL;
}

/* ------------------------------------------------------------- encode_entry */

static Py_ssize_t
put_varint(uint8_t *out, uint64_t value)
{
    Py_ssize_t n = 0;
    while (value >= 0x80) {
        out[n++] = (uint8_t)(value | 0x80);
        value >>= 7;
    }
    out[n++] = (uint8_t)value;
    return n;
}

/* encode_entry(dtype, dims, shard_id, offset, size, crc32c): the mirror of
 * tfckpt.bundle.entry_fields.encode_entry_fields (protobuf's bytes for an entry
 * without slices).  Negative or oversized numbers raise OverflowError; the
 * writer never passes them. */
static PyObject *
encode_entry(PyObject *self, PyObject *args)
{
    PyObject *numbers[5], *dims;
    if (!PyArg_ParseTuple(args, "OOOOOO", &numbers[0], &dims, &numbers[1], &numbers[2], &numbers[3], &numbers[4]))
        return NULL;
    unsigned long long values[5]; /* dtype, shard_id, offset, size, crc32c; "K" would wrap negatives */
    for (int i = 0; i < 5; i++) {
        values[i] = PyLong_AsUnsignedLongLong(numbers[i]);
        if (values[i] == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
    }
    unsigned long long dtype = values[0], shard_id = values[1], offset = values[2], size = values[3],
                       crc = values[4];
    PyObject *seq = PySequence_Fast(dims, "dims must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t rank = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    /* each dim takes at most 1 + 1 + 1 + 10 bytes; the rest at most 11 + 11 + 11 + 11 + 5 + 11 */
    size_t cap = (size_t)rank * 13 + 64;
    uint8_t *out = PyMem_Malloc(cap);
    if (out == NULL) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    Py_ssize_t n = 0;
    if (dtype) {
        out[n++] = 0x08;
        n += put_varint(out + n, dtype);
    }
    /* the shape's length comes first: measure the dims, then write them */
    uint64_t shape_len = 0;
    for (Py_ssize_t i = 0; i < rank; i++) {
        unsigned long long dim = PyLong_AsUnsignedLongLong(items[i]);
        if (dim == (unsigned long long)-1 && PyErr_Occurred()) {
            PyMem_Free(out);
            Py_DECREF(seq);
            return NULL;
        }
        uint8_t scratch[10];
        shape_len += dim ? 2 + 1 + (uint64_t)put_varint(scratch, dim) : 2;
    }
    out[n++] = 0x12;
    n += put_varint(out + n, shape_len);
    for (Py_ssize_t i = 0; i < rank; i++) {
        unsigned long long dim = PyLong_AsUnsignedLongLong(items[i]);
        out[n++] = 0x12;
        if (dim) {
            uint8_t body[11];
            body[0] = 0x08;
            Py_ssize_t body_len = 1 + put_varint(body + 1, dim);
            out[n++] = (uint8_t)body_len;
            memcpy(out + n, body, (size_t)body_len);
            n += body_len;
        } else {
            out[n++] = 0x00;
        }
    }
    Py_DECREF(seq);
    const uint8_t tags[3] = {0x18, 0x20, 0x28};
    const unsigned long long scalars[3] = {shard_id, offset, size};
    for (int i = 0; i < 3; i++) {
        if (scalars[i]) {
            out[n++] = tags[i];
            n += put_varint(out + n, scalars[i]);
        }
    }
    if (crc) {
        if (crc > 0xFFFFFFFFULL) {
            PyMem_Free(out);
            PyErr_SetString(PyExc_OverflowError, "crc32c does not fit in 32 bits");
            return NULL;
        }
        out[n++] = 0x35;
        for (int i = 0; i < 4; i++)
            out[n++] = (uint8_t)(crc >> (8 * i));
    }
    PyObject *result = PyBytes_FromStringAndSize((const char *)out, n);
    PyMem_Free(out);
    return result;
}

/* ------------------------------------------------------------- block_append */

/* block_append(buffer, previous_key, key, value): append one entry to a block
 * being built, sharing the longest common prefix with previous_key (pass b""
 * at a restart point); tfckpt.table.block.BlockBuilder.add without the
 * bookkeeping.  Returns the number of bytes shared. */
static PyObject *
block_append(PyObject *self, PyObject *args)
{
    PyObject *buffer;
    Py_buffer previous, key, value;
    if (!PyArg_ParseTuple(args, "Yy*y*y*", &buffer, &previous, &key, &value))
        return NULL;
    PyObject *result = NULL;
    if (key.len > 0xFFFFFFFFLL || value.len > 0xFFFFFFFFLL) {
        PyErr_SetString(PyExc_OverflowError, "keys and values are limited to 2**32 - 1 bytes");
        goto out;
    }
    Py_ssize_t limit = previous.len < key.len ? previous.len : key.len, shared = 0;
    const uint8_t *a = previous.buf, *b = key.buf;
    while (shared < limit && a[shared] == b[shared])
        shared++;
    uint8_t header[15];
    Py_ssize_t n = put_varint(header, (uint64_t)shared);
    n += put_varint(header + n, (uint64_t)(key.len - shared));
    n += put_varint(header + n, (uint64_t)value.len);
    Py_ssize_t old = PyByteArray_GET_SIZE(buffer);
    Py_ssize_t grow = n + (key.len - shared) + value.len;
    if (PyByteArray_Resize(buffer, old + grow) < 0)
        goto out;
    uint8_t *dst = (uint8_t *)PyByteArray_AS_STRING(buffer) + old;
    memcpy(dst, header, (size_t)n);
    memcpy(dst + n, b + shared, (size_t)(key.len - shared));
    if (value.len)
        memcpy(dst + n + (key.len - shared), value.buf, (size_t)value.len);
    result = PyLong_FromSsize_t(shared);
out:
    PyBuffer_Release(&previous);
    PyBuffer_Release(&key);
    PyBuffer_Release(&value);
    return result;
}

/* ------------------------------------------------------------ split_strings */

static PyObject *
split_strings(PyObject *self, PyObject *args)
{
    Py_buffer view;
    Py_ssize_t count;
    int big_endian;
    if (!PyArg_ParseTuple(args, "y*np", &view, &count, &big_endian))
        return NULL;
    const uint8_t *data = (const uint8_t *)view.buf;
    Py_ssize_t size = view.len, pos = 0;
    PyObject *elements = NULL, *fixed = NULL;
    uint32_t *lengths = NULL;
    if (count < 0 || count > size)
        goto refuse;
    lengths = PyMem_Malloc(count ? (size_t)count * sizeof(uint32_t) : 1);
    if (lengths == NULL) {
        PyErr_NoMemory();
        goto fail;
    }
    uint64_t total = 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        uint64_t length;
        if (pos < size && data[pos] < 0x80) {
            length = data[pos++];
        } else if (!read_varint(data, &pos, size, 10, &length)) {
            goto refuse;
        }
        if (length > 0xFFFFFFFFULL)
            goto refuse; /* 8-byte lengths in the checksum: the Python path handles them */
        lengths[i] = (uint32_t)length;
        total += length;
    }
    Py_ssize_t lengths_end = pos;
    if (size - lengths_end < 4 || total != (uint64_t)(size - lengths_end - 4))
        goto refuse;
    fixed = PyBytes_FromStringAndSize(NULL, count * 4);
    if (fixed == NULL)
        goto fail;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(fixed);
    for (Py_ssize_t i = 0; i < count; i++) {
        uint32_t v = lengths[i];
        if (big_endian) {
            out[4 * i] = (uint8_t)(v >> 24); out[4 * i + 1] = (uint8_t)(v >> 16);
            out[4 * i + 2] = (uint8_t)(v >> 8); out[4 * i + 3] = (uint8_t)v;
        } else {
            out[4 * i] = (uint8_t)v; out[4 * i + 1] = (uint8_t)(v >> 8);
            out[4 * i + 2] = (uint8_t)(v >> 16); out[4 * i + 3] = (uint8_t)(v >> 24);
        }
    }
    elements = PyList_New(count);
    if (elements == NULL)
        goto fail;
    pos = lengths_end + 4;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *element = PyBytes_FromStringAndSize((const char *)data + pos, (Py_ssize_t)lengths[i]);
        if (element == NULL)
            goto fail;
        PyList_SET_ITEM(elements, i, element);
        pos += lengths[i];
    }
    PyMem_Free(lengths);
    PyBuffer_Release(&view);
    return Py_BuildValue("(NnN)", elements, lengths_end, fixed);
refuse:
    PyMem_Free(lengths);
    Py_XDECREF(fixed);
    PyBuffer_Release(&view);
    Py_RETURN_NONE;
fail:
    PyMem_Free(lengths);
    Py_XDECREF(elements);
    Py_XDECREF(fixed);
    PyBuffer_Release(&view);
    return NULL;
}

static PyMethodDef methods[] = {
    {"block_entries", block_entries, METH_VARARGS,
     "block_entries(data, entries_end, restarts, lower, upper) -> list of (key, value), or None to defer to Python"},
    {"entry_fields", entry_fields, METH_O,
     "entry_fields(value) -> (dtype, dims, shard_id, offset, size, crc32c), or None to defer to Python"},
    {"encode_entry", encode_entry, METH_VARARGS,
     "encode_entry(dtype, dims, shard_id, offset, size, crc32c) -> the BundleEntryProto bytes of a whole tensor"},
    {"block_append", block_append, METH_VARARGS,
     "block_append(buffer, previous_key, key, value) -> bytes shared; appends one block entry"},
    {"split_strings", split_strings, METH_VARARGS,
     "split_strings(buffer, count, big_endian) -> (elements, lengths_end, fixed-width lengths), or None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "tfckpt._speedups", NULL, -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
