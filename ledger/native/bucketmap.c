/* The batch update of the map's buckets (ledger.map.bucketmap.BucketMap.update) in C.
 *
 * The same walk as the Python methods `_node`, `_fresh`, `_pair`, `_build`, `_chain`,
 * `_bucket`, `_place` and `_place_leaves`, on the same objects: the BucketMap's dict of
 * buckets (key ``path << 9 | top`` -> dict slot -> entry bytes), its sets `dirty` and
 * `_deep`, its `_fetch_level` called where a bucket of a level is missing. Only the
 * per-node work moves: bit tests instead of 256-bit integers, SHA-256 on a stack buffer
 * instead of a bytes object and a hash object a node. Every entry written and every
 * hash returned is the Python path's, byte for byte (tests/unit/test_map_compiled.py
 * runs both on the same batches). Why: the Python walk takes ~17 us of CPU an
 * appended event in the map's child (10^5 keys), this one ~7-8, most of it reading
 * and writing entries scattered over the heap (docs/PERFORMANCE.md "cmap46").
 *
 * A node's path is never held as an integer: a node at depth d on the path of a key k
 * is the first d bits of k, so every function takes the key it lies on and the depth.
 */
#ifndef SOURCE_SHA256 /* setup.py defines it: the SHA-256 of this file, as it was built */
#define SOURCE_SHA256 "unknown"
#endif
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <openssl/evp.h>
#include <string.h>

#define KEY_BYTES 32
#define KEY_BITS 256
#define HASH_BYTES 32
#define TAIL_BYTES 72 /* a leaf's bytes after its slot: key, index, entry hash */
#define INTERNAL_SIZE 33
#define LEAF_SIZE 73

typedef const unsigned char *Tail; /* TAIL_BYTES; its key is its first KEY_BYTES */

typedef struct {
    PyObject *bm;      /* the BucketMap */
    PyObject *buckets; /* bm.buckets */
    PyObject *dirty;   /* bm.dirty */
    PyObject *deep;    /* bm._deep */
    PyObject *missing;  /* ledger.map.buckets.missing */
    PyObject *too_deep; /* ledger.map.buckets.too_deep */
    Tail *tails;       /* the changed keys' tails, sorted by key */
    int cached_top; /* ledger.map.bucketmap.CACHED_TOP */
} Walk;

static const unsigned char EMPTY[HASH_BYTES] = {0};

static inline int bit(const unsigned char *key, int i) {
    return (key[i >> 3] >> (7 - (i & 7))) & 1;
}

/* The first bit at which two different keys differ. */
static int split_of(const unsigned char *a, const unsigned char *b) {
    int i = 0;
    while (a[i] == b[i]) i++;
    unsigned char x = a[i] ^ b[i];
    int j = 0;
    while (!(x & (0x80 >> j))) j++;
    return 8 * i + j;
}

/* The first bits ``from .. to - 1`` of ``key`` as an integer (``to - from`` <= 4). */
static inline int bits(const unsigned char *key, int from, int to) {
    int out = 0;
    for (int i = from; i < to; i++) out = (out << 1) | bit(key, i);
    return out;
}

/* SHA-256 through one context, fetched once (a fetch a call, as SHA256() makes in
 * OpenSSL 3, costs more than the hash); used with the GIL held, never released here. */
static EVP_MD *SHA256_MD;
static EVP_MD_CTX *CTX;

static int digest(const unsigned char *a, size_t na, const unsigned char *b, size_t nb,
                  unsigned char out[HASH_BYTES]) {
    if (EVP_DigestInit_ex2(CTX, SHA256_MD, NULL) != 1 || EVP_DigestUpdate(CTX, a, na) != 1 ||
        (nb && EVP_DigestUpdate(CTX, b, nb) != 1) || EVP_DigestFinal_ex(CTX, out, NULL) != 1) {
        PyErr_SetString(PyExc_RuntimeError, "OpenSSL: SHA-256 failed");
        return -1;
    }
    return 0;
}

static int hash_leaf(const unsigned char *tail, unsigned char out[HASH_BYTES]) {
    static const unsigned char prefix = 0x00;
    return digest(&prefix, 1, tail, TAIL_BYTES, out);
}

static int hash_node(const unsigned char *low, const unsigned char *high,
                     unsigned char out[HASH_BYTES]) {
    unsigned char buf[1 + 2 * HASH_BYTES];
    buf[0] = 0x01;
    memcpy(buf + 1, low, HASH_BYTES);
    memcpy(buf + 1 + HASH_BYTES, high, HASH_BYTES);
    return digest(buf, sizeof buf, NULL, 0, out);
}

/* A Python int from ``n`` big-endian unsigned bytes, and back (-1: an error set, or
 * a number that does not fit or is negative). The API is new in 3.13; before it, the
 * private one every version since 2.x has had. */
static PyObject *from_big_endian(const unsigned char *bytes, size_t n) {
#if PY_VERSION_HEX >= 0x030D0000
    return PyLong_FromUnsignedNativeBytes(bytes, n, Py_ASNATIVEBYTES_BIG_ENDIAN);
#else
    return _PyLong_FromByteArray(bytes, n, 0, 0);
#endif
}

static int to_big_endian(PyObject *number, unsigned char *bytes, size_t n) {
    if (!PyLong_Check(number)) {
        PyErr_SetString(PyExc_TypeError, "a bucket's key is an int");
        return -1;
    }
#if PY_VERSION_HEX >= 0x030D0000
    Py_ssize_t needed = PyLong_AsNativeBytes(
        number, bytes, (Py_ssize_t)n,
        Py_ASNATIVEBYTES_BIG_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER |
            Py_ASNATIVEBYTES_REJECT_NEGATIVE);
    if (needed < 0) return -1;
    if ((size_t)needed > n) {
        PyErr_SetString(PyExc_OverflowError, "a bucket's key is too large");
        return -1;
    }
    return 0;
#else
    return _PyLong_AsByteArray((PyLongObject *)number, bytes, n, 0, 0);
#endif
}

/* The key of the bucket whose top is at depth ``top`` on the path of ``key``:
 * ``(first top bits of key) << 9 | top``, as a Python int (new reference). */
static PyObject *bucket_key(const unsigned char *key, int top) {
    if (top < 0 || top > KEY_BITS - 4) { /* (a walk raises before it would go deeper) */
        PyErr_Format(PyExc_ValueError, "no bucket has its top at depth %d", top);
        return NULL;
    }
    if (top == 0) return PyLong_FromLong(0);
    /* key masked to its first `top` bits, then two zero bytes: that number shifted
     * right by 263 - top is the prefix shifted left by 9 */
    unsigned char in[KEY_BYTES + 2] = {0}, out[KEY_BYTES + 2] = {0};
    memcpy(in, key, KEY_BYTES);
    int whole = top >> 3, rest = top & 7;
    if (rest) in[whole] &= (unsigned char)(0xFF << (8 - rest));
    memset(in + whole + (rest ? 1 : 0), 0, KEY_BYTES - whole - (rest ? 1 : 0));
    int shift = 263 - top, q = shift >> 3, r = shift & 7;
    for (int i = KEY_BYTES + 1; i >= 0; i--) {
        int from = i - q;
        unsigned int v = 0;
        if (from >= 0) v = in[from] >> r;
        if (r && from - 1 >= 0) v |= (unsigned int)(in[from - 1] << (8 - r)) & 0xFF;
        out[i] = (unsigned char)v;
    }
    out[KEY_BYTES + 1] |= (unsigned char)(top & 0xFF);
    out[KEY_BYTES] |= (unsigned char)(top >> 8);
    return from_big_endian(out, KEY_BYTES + 2);
}

static PyObject *entry(int slot, int leaf, const unsigned char *body) {
    PyObject *out = PyBytes_FromStringAndSize(NULL, leaf ? LEAF_SIZE : INTERNAL_SIZE);
    if (!out) return NULL;
    char *at = PyBytes_AS_STRING(out);
    at[0] = (char)(leaf ? (slot | 0x80) : slot);
    memcpy(at + 1, body, leaf ? TAIL_BYTES : HASH_BYTES);
    return out;
}

static int put(PyObject *bucket, int slot, int leaf, const unsigned char *body) {
    PyObject *value = entry(slot, leaf, body);
    if (!value) return -1;
    PyObject *number = PyLong_FromLong(slot);
    int rc = number ? PyDict_SetItem(bucket, number, value) : -1;
    Py_XDECREF(number);
    Py_DECREF(value);
    return rc;
}

/* The entry at ``slot`` of ``bucket`` (borrowed; NULL and no error: none). */
static PyObject *get(PyObject *bucket, int slot) {
    PyObject *number = PyLong_FromLong(slot);
    if (!number) return NULL;
    PyObject *out = PyDict_GetItemWithError(bucket, number);
    Py_DECREF(number);
    return out;
}

static int check_entry(PyObject *node) {
    if (!PyBytes_Check(node) ||
        (PyBytes_GET_SIZE(node) != INTERNAL_SIZE && PyBytes_GET_SIZE(node) != LEAF_SIZE)) {
        PyErr_SetString(PyExc_ValueError, "a map bucket entry is 33 or 73 bytes");
        return -1;
    }
    return 0;
}

/* The hash a child contributes to its parent (`ledger.map.buckets.value`). */
static int value(PyObject *node, unsigned char out[HASH_BYTES]) {
    if (!node) {
        memcpy(out, EMPTY, HASH_BYTES);
        return 0;
    }
    if (check_entry(node) < 0) return -1;
    const unsigned char *at = (const unsigned char *)PyBytes_AS_STRING(node);
    if (PyBytes_GET_SIZE(node) == INTERNAL_SIZE) {
        memcpy(out, at + 1, HASH_BYTES);
        return 0;
    }
    return hash_leaf(at + 1, out);
}

/* `BucketMap._bucket`: the bucket (made if new, marked changed) holding the node at
 * ``depth`` (>= 1) on the path of ``key`` (a new reference), its slot in ``slot``. */
static PyObject *bucket_at(Walk *w, int depth, const unsigned char *key, int *slot) {
    int top = ((depth - 1) >> 2) << 2, rel = depth - top;
    PyObject *number = bucket_key(key, top);
    if (!number) return NULL;
    PyObject *bucket = PyDict_GetItemWithError(w->buckets, number);
    if (bucket) {
        Py_INCREF(bucket);
    } else {
        if (PyErr_Occurred() || !(bucket = PyDict_New())) goto fail;
        if (PyDict_SetItem(w->buckets, number, bucket) < 0) goto fail;
    }
    if (top > w->cached_top && PySet_Add(w->deep, number) < 0) goto fail;
    if (PySet_Add(w->dirty, number) < 0) goto fail;
    Py_DECREF(number);
    *slot = (1 << rel) | bits(key, top, depth);
    return bucket;
fail:
    Py_XDECREF(bucket);
    Py_DECREF(number);
    return NULL;
}

/* `_place`: the node at ``depth`` on the path of ``key``: a leaf (``leaf`` its tail)
 * or, when ``leaf`` is NULL, the internal node of hash ``hash``. */
static int place(Walk *w, int depth, const unsigned char *key, const unsigned char *hash,
                 Tail leaf) {
    int slot;
    PyObject *bucket = bucket_at(w, depth, key, &slot);
    if (!bucket) return -1;
    int rc = leaf ? put(bucket, slot, 1, leaf) : put(bucket, slot, 0, hash);
    Py_DECREF(bucket);
    return rc;
}

/* `_place_leaves`: the leaves ``low`` and ``high`` side by side at ``depth``, ``low``
 * on the path of its own key. */
static int place_leaves(Walk *w, int depth, Tail low, Tail high) {
    int slot;
    PyObject *bucket = bucket_at(w, depth, low, &slot);
    if (!bucket) return -1;
    int rc = put(bucket, slot, 1, low) < 0 ? -1 : put(bucket, slot + 1, 1, high);
    Py_DECREF(bucket);
    return rc;
}

/* `_chain`: the hash of the node at ``depth`` above the internal node of hash ``hash``
 * at ``split`` on the path of ``key``, the one-child nodes between them placed. */
static int chain(Walk *w, int depth, int split, const unsigned char *key,
                 unsigned char hash[HASH_BYTES]) {
    for (int level = split - 1; level >= depth; level--) {
        if (place(w, level + 1, key, hash, NULL) < 0) return -1;
        if ((bit(key, level) ? hash_node(EMPTY, hash, hash) : hash_node(hash, EMPTY, hash)) < 0)
            return -1;
    }
    return 0;
}

/* `_build`: the node at ``depth`` over the sorted leaves ``tails[0 .. n)``, every node
 * below it placed: its hash in ``out``; ``*leaf`` its tail if it is a leaf, else NULL. */
static int build(Walk *w, int depth, Tail *tails, Py_ssize_t n, unsigned char out[HASH_BYTES],
                 Tail *leaf) {
    if (n == 1) {
        *leaf = tails[0];
        return hash_leaf(tails[0], out);
    }
    *leaf = NULL;
    int split = split_of(tails[0], tails[n - 1]);
    unsigned char pair[HASH_BYTES];
    if (n == 2) {
        unsigned char low[HASH_BYTES], high[HASH_BYTES];
        if (place_leaves(w, split + 1, tails[0], tails[1]) < 0 || hash_leaf(tails[0], low) < 0 ||
            hash_leaf(tails[1], high) < 0 || hash_node(low, high, pair) < 0)
            return -1;
    } else {
        Py_ssize_t mid = 0;
        while (!bit(tails[mid], split)) mid++;
        unsigned char low[HASH_BYTES], high[HASH_BYTES];
        Tail low_leaf, high_leaf;
        if (build(w, split + 1, tails, mid, low, &low_leaf) < 0) return -1;
        if (build(w, split + 1, tails + mid, n - mid, high, &high_leaf) < 0) return -1;
        if (place(w, split + 1, tails[0], low, low_leaf) < 0) return -1;
        if (place(w, split + 1, tails[mid], high, high_leaf) < 0) return -1;
        if (hash_node(low, high, pair) < 0) return -1;
    }
    memcpy(out, pair, HASH_BYTES);
    return chain(w, depth, split, tails[0], out);
}

/* `_fresh`: the subtree at ``depth`` of the changed keys ``[lo, hi)`` (two or more) and
 * the stored leaf ``stored`` (a 73-byte entry, or NULL) unless a change replaces it. */
static int fresh(Walk *w, int depth, Py_ssize_t lo, Py_ssize_t hi, PyObject *stored,
                 unsigned char out[HASH_BYTES], Tail *leaf) {
    Py_ssize_t n = hi - lo;
    Tail *tails = PyMem_Malloc((size_t)(n + 1) * sizeof(Tail));
    if (!tails) {
        PyErr_NoMemory();
        return -1;
    }
    Py_ssize_t count = 0;
    Tail old = stored ? (Tail)PyBytes_AS_STRING(stored) + 1 : NULL;
    for (Py_ssize_t i = lo; i < hi && old; i++)
        if (memcmp(w->tails[i], old, KEY_BYTES) == 0) old = NULL; /* replaced */
    for (Py_ssize_t i = lo; i < hi; i++) {
        if (old && memcmp(old, w->tails[i], KEY_BYTES) < 0) {
            tails[count++] = old;
            old = NULL;
        }
        tails[count++] = w->tails[i];
    }
    if (old) tails[count++] = old;
    int rc = build(w, depth, tails, count, out, leaf);
    PyMem_Free(tails);
    return rc;
}

/* `_pair`: the subtree at ``depth`` of two leaves: ``one`` and the stored leaf entry
 * ``other`` (a different key), moved to its new slot as it is. */
static int pair(Walk *w, int depth, Tail one, PyObject *other, unsigned char out[HASH_BYTES]) {
    Tail low = one, high = (Tail)PyBytes_AS_STRING(other) + 1;
    if (memcmp(high, low, KEY_BYTES) < 0) {
        Tail swap = low;
        low = high;
        high = swap;
    }
    int split = split_of(low, high);
    unsigned char a[HASH_BYTES], b[HASH_BYTES];
    if (place_leaves(w, split + 1, low, high) < 0 || hash_leaf(low, a) < 0 ||
        hash_leaf(high, b) < 0 || hash_node(a, b, out) < 0)
        return -1;
    return chain(w, depth, split, low, out);
}

/* Raise the error ``make(depth)`` returns (ledger.map.buckets: `missing`, `too_deep`). */
static int raise_made(PyObject *make, int depth) {
    PyObject *error = PyObject_CallFunction(make, "i", depth);
    if (!error) return -1;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return -1;
}

/* `_node`: the node at ``slot`` of ``bucket`` (whose key is ``key``; top ``top``; the
 * node ``rel`` levels below it) with the changed keys ``[lo, hi)`` below it: rebuilt,
 * its entry stored in its slot; its hash in ``out``. */
static int node(Walk *w, PyObject *bucket, PyObject *key, int top, int slot, int rel,
                Py_ssize_t lo, Py_ssize_t hi, unsigned char out[HASH_BYTES]) {
    PyObject *stored = get(bucket, slot);
    if (!stored && PyErr_Occurred()) return -1;
    if (stored && check_entry(stored) < 0) return -1;
    int depth = top + rel, rc = -1;
    Py_XINCREF(stored); /* the slot is written below, after its last read */
    if (!stored || PyBytes_GET_SIZE(stored) != INTERNAL_SIZE) {
        if (PySet_Add(w->dirty, key) < 0) goto done;
        Tail leaf = NULL;
        if (hi - lo == 1) {
            Tail one = w->tails[lo];
            if (!stored || memcmp(PyBytes_AS_STRING(stored) + 1, one, KEY_BYTES) == 0) {
                rc = hash_leaf(one, out) < 0 ? -1 : put(bucket, slot, 1, one);
                goto done;
            }
            if (pair(w, depth, one, stored, out) < 0) goto done;
        } else if (fresh(w, depth, lo, hi, stored, out, &leaf) < 0) {
            goto done;
        }
        rc = leaf ? put(bucket, slot, 1, leaf) : put(bucket, slot, 0, out);
        goto done;
    }
    /* a stored internal node: its children are in this bucket, or at the top of the
     * bucket below (slots 2 and 3 there) when this node is this bucket's bottom */
    PyObject *children, *child_key;
    int below;
    if (depth >= KEY_BITS) { /* damaged rows: no key has a bit there to follow */
        raise_made(w->too_deep, depth);
        goto done;
    }
    if (rel == 4) {
        top = depth;
        rel = 0;
        below = 2;
        child_key = bucket_key(w->tails[lo], depth);
        if (!child_key) goto done;
        if (PySet_Add(w->dirty, child_key) < 0) goto drop;
        children = PyDict_GetItemWithError(w->buckets, child_key);
        if (!children) {
            if (PyErr_Occurred()) goto drop;
            PyObject *got = PyObject_CallMethod(w->bm, "_fetch_level", "i", depth);
            if (!got) goto drop;
            Py_DECREF(got);
            children = PyDict_GetItemWithError(w->buckets, child_key);
            if (!children) {
                if (!PyErr_Occurred()) raise_made(w->missing, depth);
                goto drop;
            }
        }
    } else {
        children = bucket;
        below = 2 * slot;
        child_key = key;
        Py_INCREF(child_key);
    }
    Py_INCREF(children);
    Py_ssize_t mid = lo;
    while (mid < hi && !bit(w->tails[mid], depth)) mid++;
    unsigned char low[HASH_BYTES], high[HASH_BYTES];
    if (mid > lo)
        rc = node(w, children, child_key, top, below, rel + 1, lo, mid, low);
    else {
        PyObject *child = get(children, below);
        rc = (!child && PyErr_Occurred()) ? -1 : value(child, low);
    }
    if (rc == 0) {
        if (hi > mid)
            rc = node(w, children, child_key, top, below + 1, rel + 1, mid, hi, high);
        else {
            PyObject *child = get(children, below + 1);
            rc = (!child && PyErr_Occurred()) ? -1 : value(child, high);
        }
    }
    Py_DECREF(children);
    if (rc == 0) rc = hash_node(low, high, out) < 0 ? -1 : put(bucket, slot, 0, out);
drop:
    Py_DECREF(child_key);
done:
    Py_XDECREF(stored);
    return rc;
}

PyDoc_STRVAR(update_doc,
"update(bucket_map, tails, cached_top, missing, too_deep) -> bytes\n\n"
"The root hash after the changes whose leaf tails (72 bytes each: key, index, entry\n"
"hash) are ``tails``, sorted by key and distinct, applied to ``bucket_map`` (a\n"
"ledger.map.bucketmap.BucketMap) exactly as its Python walk applies them: the same\n"
"entries written, the same buckets marked dirty and deep, `_fetch_level` called where\n"
"a level's bucket is missing, ``missing(depth)`` raised where it stays missing and\n"
"``too_deep(depth)`` where a stored internal node is at depth 256.");

static PyObject *update(PyObject *module, PyObject *args) {
    PyObject *bm, *tail_list, *missing, *too_deep;
    int cached_top;
    (void)module;
    if (!PyArg_ParseTuple(args, "OO!iOO", &bm, &PyList_Type, &tail_list, &cached_top, &missing,
                          &too_deep))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(tail_list);
    Walk w = {bm, NULL, NULL, NULL, missing, too_deep, NULL, cached_top};
    PyObject *result = NULL, *held = NULL;
    if (n == 0) {
        PyErr_SetString(PyExc_ValueError, "an update of no keys");
        return NULL;
    }
    if (!(w.buckets = PyObject_GetAttrString(bm, "buckets")) ||
        !(w.dirty = PyObject_GetAttrString(bm, "dirty")) ||
        !(w.deep = PyObject_GetAttrString(bm, "_deep")))
        goto out;
    if (!PyDict_Check(w.buckets) || !PySet_Check(w.dirty) || !PySet_Check(w.deep)) {
        PyErr_SetString(PyExc_TypeError, "a BucketMap's buckets, dirty and _deep");
        goto out;
    }
    /* a copy of the list: its items stay alive while the walk reads their bytes */
    if (!(held = PyList_GetSlice(tail_list, 0, n))) goto out;
    if (!(w.tails = PyMem_Malloc((size_t)n * sizeof(Tail)))) {
        PyErr_NoMemory();
        goto out;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(held, i);
        if (!PyBytes_Check(item) || PyBytes_GET_SIZE(item) != TAIL_BYTES) {
            PyErr_SetString(PyExc_ValueError, "a leaf's tail is 72 bytes");
            goto out;
        }
        w.tails[i] = (Tail)PyBytes_AS_STRING(item);
        if (i && memcmp(w.tails[i - 1], w.tails[i], KEY_BYTES) >= 0) {
            PyErr_SetString(PyExc_ValueError, "the tails are sorted by key, each key once");
            goto out;
        }
    }
    PyObject *zero = PyLong_FromLong(0);
    if (!zero) goto out;
    PyObject *root = PyDict_GetItemWithError(w.buckets, zero);
    if (!root) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_KeyError, "the root bucket");
        Py_DECREF(zero);
        goto out;
    }
    Py_INCREF(root);
    if (PySet_Add(w.dirty, zero) == 0) {
        unsigned char hash[HASH_BYTES];
        if (node(&w, root, zero, 0, 1, 0, 0, n, hash) == 0)
            result = PyBytes_FromStringAndSize((const char *)hash, HASH_BYTES);
    }
    Py_DECREF(root);
    Py_DECREF(zero);
out:
    PyMem_Free(w.tails);
    Py_XDECREF(held);
    Py_XDECREF(w.buckets);
    Py_XDECREF(w.dirty);
    Py_XDECREF(w.deep);
    return result;
}

/* The position (ledger.map.update.position) of the top of the bucket whose key is
 * ``number`` (``path << 9 | top``): the path's ``top`` bits, a marker bit, zero bits to
 * the byte's end; ``top / 8 + 1`` bytes. New reference. */
static PyObject *top_position(PyObject *number) {
    unsigned char in[KEY_BYTES + 2], out[KEY_BYTES + 2];
    if (to_big_endian(number, in, sizeof in) < 0) return NULL;
    int top = ((in[KEY_BYTES] & 1) << 8) | in[KEY_BYTES + 1];
    if (top > KEY_BITS - 4 || top % 4) {
        PyErr_SetString(PyExc_ValueError, "a bucket's key: its top is a multiple of 4 below 256");
        return NULL;
    }
    /* ((number >> 8) | 1) << (8 * size - top - 1): the path, then its marker */
    int size = top / 8 + 1, shift = 8 * size - top - 1;
    in[KEY_BYTES] |= 1;
    for (int i = 0; i <= KEY_BYTES; i++) { /* in[0 .. KEY_BYTES] is number >> 8 */
        unsigned int v = (unsigned int)in[i] << shift;
        if (i < KEY_BYTES) v |= shift ? in[i + 1] >> (8 - shift) : 0;
        out[i] = (unsigned char)v;
    }
    return PyBytes_FromStringAndSize((const char *)out + KEY_BYTES + 1 - size, size);
}

/* A bucket's row: its entries joined, in the dict's order. New reference. */
static PyObject *row_of(PyObject *bucket) {
    Py_ssize_t at = 0, length = 0, copied = 0;
    PyObject *slot, *entry;
    while (PyDict_Next(bucket, &at, &slot, &entry)) {
        if (check_entry(entry) < 0) return NULL;
        length += PyBytes_GET_SIZE(entry);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, length);
    if (!out) return NULL;
    char *to = PyBytes_AS_STRING(out);
    at = 0;
    while (PyDict_Next(bucket, &at, &slot, &entry)) {
        /* (nothing between the two passes runs Python code; checked all the same) */
        if (check_entry(entry) < 0 || copied + PyBytes_GET_SIZE(entry) > length) break;
        memcpy(to + copied, PyBytes_AS_STRING(entry), (size_t)PyBytes_GET_SIZE(entry));
        copied += PyBytes_GET_SIZE(entry);
    }
    if (copied != length) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, "a bucket changed");
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

PyDoc_STRVAR(rows_doc,
"rows(buckets, dirty) -> list[tuple[bytes, bytes]]\n\n"
"The rows of the buckets whose keys are in ``dirty`` (each a key of ``buckets``): the\n"
"position of the bucket's top and its entries joined, sorted by position, as\n"
"ledger.map.bucketmap.BucketMap.rows gives them.");

static PyObject *rows(PyObject *module, PyObject *args) {
    PyObject *buckets, *dirty;
    (void)module;
    if (!PyArg_ParseTuple(args, "O!O!", &PyDict_Type, &buckets, &PySet_Type, &dirty))
        return NULL;
    PyObject *out = PyList_New(0), *iter = PyObject_GetIter(dirty), *number;
    if (!out || !iter) goto fail;
    while ((number = PyIter_Next(iter))) {
        PyObject *bucket = PyDict_GetItemWithError(buckets, number);
        PyObject *pos = NULL, *row = NULL, *pair = NULL;
        if (!bucket) {
            if (!PyErr_Occurred()) PyErr_SetObject(PyExc_KeyError, number);
        } else if (!PyDict_Check(bucket)) {
            PyErr_SetString(PyExc_TypeError, "a bucket is a dict");
        } else if ((pos = top_position(number)) && (row = row_of(bucket))) {
            pair = PyTuple_Pack(2, pos, row);
        }
        Py_DECREF(number);
        Py_XDECREF(pos);
        Py_XDECREF(row);
        if (!pair) goto fail;
        int rc = PyList_Append(out, pair);
        Py_DECREF(pair);
        if (rc < 0) goto fail;
    }
    if (PyErr_Occurred() || PyList_Sort(out) < 0) goto fail;
    Py_DECREF(iter);
    return out;
fail:
    Py_XDECREF(iter);
    Py_XDECREF(out);
    return NULL;
}

static PyMethodDef methods[] = {
    {"update", update, METH_VARARGS, update_doc},
    {"rows", rows, METH_VARARGS, rows_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "ledger.native.bucketmap",
    "The map's batch update in C (ledger.map.bucketmap uses it when it is built).", -1,
    methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit_bucketmap(void) {
    if (!SHA256_MD) SHA256_MD = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!CTX) CTX = EVP_MD_CTX_new();
    if (!SHA256_MD || !CTX) {
        PyErr_SetString(PyExc_ImportError, "OpenSSL: no SHA-256");
        return NULL;
    }
    PyObject *made = PyModule_Create(&module);
    if (made && PyModule_AddStringConstant(made, "SOURCE_SHA256", SOURCE_SHA256) < 0)
        Py_CLEAR(made);
    return made;
}
