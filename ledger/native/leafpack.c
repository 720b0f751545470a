/* A batch of leaves packed for storage (ledger.store.leafpack.pack) in C.
 *
 * Only the leaves in the envelope `Leaf.build` writes, the ones
 * ledger.store.leafpack._built_fields recognises: each is packed in the second form
 * (its key id, previous hash and signature stored raw, the rest DEFLATE-d against
 * DICTIONARY_V2) exactly as `pack` packs it, byte for byte; every other leaf gets None
 * and `pack` decides (tests/unit/test_leafpack.py compares the two on built
 * leaves, on leaves altered around each field and on any bytes). The batch is packed
 * with the GIL released: the append makes its leaves in a worker thread before it takes
 * the log's lock, and the event loop and the other threads run meanwhile. Why: `pack`
 * is ~7 us of the server's Python an event, this ~4 and none of it on the GIL
 * (docs/PERFORMANCE.md "cmap46").
 */
#ifndef SOURCE_SHA256 /* setup.py defines it: the SHA-256 of this file, as it was built */
#define SOURCE_SHA256 "unknown"
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>
#include <zlib.h>

#define KEY_CHARS 22  /* unpadded base64url of 16 bytes */
#define PREV_CHARS 43 /* ... of 32 */
#define SIG_CHARS 86  /* ... of 64 */
#define MAX_LEAF (1 << 20)
#define HEAD_MAX (2 + 16 + 32 + 64)

static const char KEY_START[] = ",\"key\":\"";
static const char SIG_START[] = "\"sig\":\"";
static const char PREV_START[] = "\"prev\":\"";
static const char RECEIVED[] = "\",\"received\":\"";
static const char SIG_AFTER_RECEIVED[] = "\",\"sig\":\"";

/* base64url value of a character, -1 outside the alphabet (a constant: read without
 * the GIL) */
static const signed char B64[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, 63,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

static int all_b64(const unsigned char *text, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (B64[text[i]] < 0) return 0;
    return 1;
}

/* Whether the last character of canonical base64url text of ``size`` bytes may be
 * ``c``: its spare bits zero (16 and 64 bytes: every 16th character; 32: every 4th). */
static int canonical_last(unsigned char c, int size) {
    int v = B64[c];
    return v >= 0 && (v % (size % 3 == 1 ? 16 : 4)) == 0;
}

/* ``n`` characters of base64url (checked) as their bytes, written to ``out``. */
static void b64_decode(const unsigned char *text, size_t n, unsigned char *out) {
    unsigned int acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 6) | (unsigned int)B64[text[i]];
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            *out++ = (unsigned char)(acc >> bits);
        }
    }
}

/* The first ``needle`` wholly inside ``hay[from .. to)``, or -1 (bytes.find). */
static Py_ssize_t find(const unsigned char *hay, Py_ssize_t from, Py_ssize_t to,
                       const char *needle) {
    Py_ssize_t n = (Py_ssize_t)strlen(needle);
    for (Py_ssize_t at = from; at + n <= to; at++) {
        const unsigned char *first = memchr(hay + at, needle[0], (size_t)(to - n + 1 - at));
        if (!first) return -1;
        at = first - hay;
        if (memcmp(hay + at, needle, (size_t)n) == 0) return at;
    }
    return -1;
}

/* The last ``needle`` in ``hay[0 .. len)``, or -1 (bytes.rfind). */
static Py_ssize_t rfind(const unsigned char *hay, Py_ssize_t len, const char *needle) {
    Py_ssize_t n = (Py_ssize_t)strlen(needle);
    for (Py_ssize_t at = len - n; at >= 0; at--)
        if (hay[at] == (unsigned char)needle[0] && memcmp(hay + at, needle, (size_t)n) == 0)
            return at;
    return -1;
}

typedef struct {
    const unsigned char *leaf;
    Py_ssize_t len;
    unsigned char *out; /* the packed value (malloc), NULL: not this path */
    size_t out_len;
    int use_leaf; /* packing would not be shorter: the leaf itself is stored */
} Job;

/* `_built_fields`: the head (tag, flags, raw fields) in ``head`` and the template's
 * pieces (``cuts``: pairs of [from, to) of the leaf, joined); 0 when the leaf is not in
 * Leaf.build's envelope. */
static int built_fields(const unsigned char *leaf, Py_ssize_t len, unsigned char *head,
                        size_t *head_len, Py_ssize_t cuts[8], int *ncuts) {
    Py_ssize_t at = rfind(leaf, len, KEY_START);
    if (at <= 0) return 0;
    /* the tail: ,"key":"<22>","received":"[0-9T:.Z-]*","sig":"<86>"(,"v":2)?} to the end */
    Py_ssize_t key_at = at + (Py_ssize_t)strlen(KEY_START), p = key_at + KEY_CHARS;
    if (p > len || !all_b64(leaf + key_at, KEY_CHARS)) return 0;
    size_t n = strlen(RECEIVED);
    if (p + (Py_ssize_t)n > len || memcmp(leaf + p, RECEIVED, n) != 0) return 0;
    p += (Py_ssize_t)n;
    while (p < len && (leaf[p] == 'T' || leaf[p] == ':' || leaf[p] == '.' || leaf[p] == 'Z' ||
                       leaf[p] == '-' || (leaf[p] >= '0' && leaf[p] <= '9')))
        p++;
    n = strlen(SIG_AFTER_RECEIVED);
    if (p + (Py_ssize_t)n > len || memcmp(leaf + p, SIG_AFTER_RECEIVED, n) != 0) return 0;
    Py_ssize_t sig_at = p + (Py_ssize_t)n;
    p = sig_at + SIG_CHARS;
    if (p + 2 > len || !all_b64(leaf + sig_at, SIG_CHARS) || leaf[p] != '"') return 0;
    p++;
    if (!(p + 1 == len && leaf[p] == '}') &&
        !(p + 7 == len && memcmp(leaf + p, ",\"v\":2}", 7) == 0))
        return 0;
    /* the event before the tail: no "sig":" and no "key":" */
    if (find(leaf, 0, at, SIG_START) >= 0 || find(leaf, 0, at, KEY_START + 1) >= 0) return 0;
    if (!canonical_last(leaf[key_at + KEY_CHARS - 1], 16) ||
        !canonical_last(leaf[sig_at + SIG_CHARS - 1], 64))
        return 0;
    Py_ssize_t prev = find(leaf, 0, at, PREV_START);
    head[0] = 0x02;
    b64_decode(leaf + key_at, KEY_CHARS, head + 2);
    if (prev >= 0) {
        if (find(leaf, prev + 1, at, PREV_START) >= 0) return 0; /* the search decides */
        Py_ssize_t value = prev + (Py_ssize_t)strlen(PREV_START), end = value + PREV_CHARS;
        if (end < at && leaf[end] == '"' && all_b64(leaf + value, PREV_CHARS) &&
            canonical_last(leaf[end - 1], 32)) {
            head[1] = 7;
            b64_decode(leaf + value, PREV_CHARS, head + 2 + 16);
            b64_decode(leaf + sig_at, SIG_CHARS, head + 2 + 16 + 32);
            *head_len = HEAD_MAX;
            Py_ssize_t c[8] = {0, value, end, key_at, key_at + KEY_CHARS, sig_at,
                               sig_at + SIG_CHARS, len};
            memcpy(cuts, c, sizeof c);
            *ncuts = 4;
            return 1;
        }
    }
    head[1] = 5;
    b64_decode(leaf + sig_at, SIG_CHARS, head + 2 + 16);
    *head_len = 2 + 16 + 64;
    Py_ssize_t c[6] = {0, key_at, key_at + KEY_CHARS, sig_at, sig_at + SIG_CHARS, len};
    memcpy(cuts, c, sizeof c);
    *ncuts = 3;
    return 1;
}

/* One leaf: its packed value in ``job->out`` (or ``use_leaf``), or nothing (another
 * path). Returns -1 only when zlib fails or memory runs out. */
static int pack_one(Job *job, z_stream *primed) {
    unsigned char head[HEAD_MAX];
    size_t head_len;
    Py_ssize_t cuts[8];
    int ncuts;
    if (!built_fields(job->leaf, job->len, head, &head_len, cuts, &ncuts)) return 0;
    size_t template_len = 0;
    for (int i = 0; i < ncuts; i++) template_len += (size_t)(cuts[2 * i + 1] - cuts[2 * i]);
    if (template_len > MAX_LEAF) return 0;
    unsigned char *template = malloc(template_len ? template_len : 1);
    if (!template) return -1;
    size_t at = 0;
    for (int i = 0; i < ncuts; i++) {
        size_t piece = (size_t)(cuts[2 * i + 1] - cuts[2 * i]);
        memcpy(template + at, job->leaf + cuts[2 * i], piece);
        at += piece;
    }
    z_stream stream;
    int rc = 0; /* a deflate that does not finish: not this path (`pack` decides) */
    int copied = deflateCopy(&stream, primed);
    if (copied != Z_OK) {
        free(template);
        return copied == Z_MEM_ERROR ? -1 : 0;
    }
    size_t bound = deflateBound(&stream, (uLong)template_len) + 16;
    unsigned char *out = malloc(head_len + bound);
    if (!out) rc = -1;
    if (out) {
        memcpy(out, head, head_len);
        stream.next_in = template;
        stream.avail_in = (uInt)template_len;
        stream.next_out = out + head_len;
        stream.avail_out = (uInt)bound;
        if (deflate(&stream, Z_FINISH) == Z_STREAM_END) {
            job->out_len = head_len + (bound - stream.avail_out);
            /* `pack`: the packed value when it is shorter, or the leaf does not start
             * with '{' (so a stored leaf is never mistaken for a packed one) */
            if (job->out_len < (size_t)job->len || job->leaf[0] != '{') {
                job->out = out;
                out = NULL;
            } else {
                job->use_leaf = 1;
            }
        }
        free(out);
    }
    deflateEnd(&stream);
    free(template);
    return rc;
}

PyDoc_STRVAR(pack_built_doc,
"pack_built(leaves, dictionary, level, wbits, memlevel) -> list[bytes | None]\n\n"
"For each of ``leaves`` that is bytes in the envelope ledger.entry.Leaf.build writes, the\n"
"value ledger.store.leafpack.pack stores for it (the second packed form, DEFLATE with\n"
"``dictionary`` at ``level``, ``wbits``, ``memlevel``), or None where pack must decide.");

static PyObject *pack_built(PyObject *module, PyObject *args) {
    PyObject *leaves;
    Py_buffer dictionary;
    int level, wbits, memlevel;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!y*iii", &PyList_Type, &leaves, &dictionary, &level, &wbits,
                          &memlevel))
        return NULL;
    PyObject *held = PyList_GetSlice(leaves, 0, PyList_GET_SIZE(leaves)), *result = NULL;
    Py_ssize_t n = held ? PyList_GET_SIZE(held) : 0;
    Job *jobs = held ? PyMem_Calloc((size_t)(n ? n : 1), sizeof(Job)) : NULL;
    z_stream primed;
    int primed_ok = 0, failed = 0;
    if (!held || !jobs) {
        if (!PyErr_Occurred()) PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(held, i);
        if (!PyBytes_Check(item)) continue; /* not bytes: None, `pack` decides */
        jobs[i].leaf = (const unsigned char *)PyBytes_AS_STRING(item);
        jobs[i].len = PyBytes_GET_SIZE(item);
    }
    memset(&primed, 0, sizeof primed);
    if (deflateInit2(&primed, level, Z_DEFLATED, wbits, memlevel, Z_DEFAULT_STRATEGY) != Z_OK) {
        PyErr_SetString(PyExc_RuntimeError, "zlib: deflateInit2 failed");
        goto out;
    }
    primed_ok = 1;
    if (deflateSetDictionary(&primed, dictionary.buf, (uInt)dictionary.len) != Z_OK) {
        PyErr_SetString(PyExc_RuntimeError, "zlib: deflateSetDictionary failed");
        goto out;
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n && !failed; i++)
        if (jobs[i].len > 0 && pack_one(&jobs[i], &primed) < 0) failed = 1;
    Py_END_ALLOW_THREADS
    if (failed) {
        PyErr_SetString(PyExc_MemoryError, "packing a leaf: zlib or memory failed");
        goto out;
    }
    result = PyList_New(n);
    if (!result) goto out;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *value;
        if (jobs[i].out)
            value = PyBytes_FromStringAndSize((const char *)jobs[i].out,
                                              (Py_ssize_t)jobs[i].out_len);
        else if (jobs[i].use_leaf)
            value = Py_NewRef(PyList_GET_ITEM(held, i));
        else
            value = Py_NewRef(Py_None);
        if (!value) {
            Py_CLEAR(result);
            goto out;
        }
        PyList_SET_ITEM(result, i, value);
    }
out:
    if (primed_ok) deflateEnd(&primed);
    if (jobs)
        for (Py_ssize_t i = 0; i < n; i++) free(jobs[i].out);
    PyMem_Free(jobs);
    Py_XDECREF(held);
    PyBuffer_Release(&dictionary);
    return result;
}

static PyMethodDef methods[] = {
    {"pack_built", pack_built, METH_VARARGS, pack_built_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ledger.native.leafpack",
    "Built leaves packed in C (ledger.store.leafpack uses it when it is built).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_leafpack(void) {
    PyObject *made = PyModule_Create(&module);
    if (made && (PyModule_AddStringConstant(made, "SOURCE_SHA256", SOURCE_SHA256) < 0 ||
                 PyModule_AddStringConstant(made, "ZLIB_VERSION", zlibVersion()) < 0))
        Py_CLEAR(made);
    return made;
}
