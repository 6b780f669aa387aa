/* softack._speedups: the normaliser's hot path for ASCII text, in C.
 *
 * Optional: softack.normalize uses it when the build could compile it, and otherwise runs the
 * same algorithm in Python; tests/test_speedups.py checks that both give the same answers. The
 * rules stay in softack/normalize.py, which hands its tables over:
 *
 *   configure(fold, canonical, pairs[, seed])
 *     fold       bytes(256): byte -> word byte, or b" " for a word break (A-Z already lowered)
 *     canonical  callable(raw word) -> canonical word (an exact ASCII str); pure, so its answers
 *                are kept here
 *     pairs      dict: (first, second) -> one word, ("uh", "huh") -> "uhhuh" (copied)
 *     seed       an int mixed into the table's hash (normalize.py passes a random one)
 *   add_marks(words)
 *     words the rules look up (every RuleMatcher's first words); normalize_ascii reports them
 *   normalize_ascii(text) -> (normalized, present) or None
 *     text     an ASCII str (str.isascii())
 *     returns  normalize(text), and its words that are marks, each with where it first occurs
 *              in the normalised text ({word: offset}, or None when no word is a mark); None for a
 *              text it leaves to the Python path (a word of over 45 characters). An offset is
 *              where the word was written, which a folded pair may since have overwritten
 *              ("all" of "all right"): a lower bound of where the word is, never past it.
 *   first_phrase(by_first, present, padded) -> str or None
 *     softack.rules.PhraseFinder.first_of in C (the Python method is the definition)
 *
 * Why C: a long utterance's cost in Python is one object and one dictionary lookup per word,
 * each a cache miss when the caches are cold. Here a word seen before costs one slot of a table
 * that holds its bytes and what the rules need to know of it (its canonical form when that
 * differs, whether it is a mark or half of a pair), and no Python object is touched for it.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static unsigned char fold[256];
static PyObject *canonical = NULL;  /* callable */
static uint64_t seed = 1469598103934665603ULL; /* FNV-1a's offset basis, mixed with configure's seed */
static PyObject *pairs = NULL;      /* dict: (first, second) -> word */
static PyObject *pair_firsts = NULL;  /* set */
static PyObject *pair_seconds = NULL; /* set */
static PyObject *marks = NULL;      /* set */

/* raw word bytes -> what is known of it. Open addressing with linear probing, one cache line a
 * slot. Bounded: emptied when half full. A text with a word longer than KEY_MAX, or one that
 * would fill the table, is left to the Python path (normalize_ascii returns None). */
#define TABLE_BITS 15
#define TABLE_SIZE (1u << TABLE_BITS)
#define TABLE_MAX (TABLE_SIZE / 2)       /* cleared at the next call when this full */
#define TABLE_FULL (TABLE_SIZE * 3 / 4)  /* within one call, no more words are added */
#define KEY_MAX 45
enum {
    SAME = 1,   /* canonical form == the raw bytes */
    EMPTY = 2,  /* canonical form "" (apostrophes only): no word */
    MARK = 4,   /* canonical form is a mark */
    FIRST = 8,  /* canonical form begins a pair */
    SECOND = 16 /* canonical form ends a pair */
};
typedef struct {
    uint64_t hash;
    PyObject *value; /* the canonical form (a strong reference); NULL: an empty slot */
    unsigned char len;
    unsigned char flags;
    char key[KEY_MAX + 1];
} slot;
static slot *table = NULL;
static size_t table_used = 0;

static void
table_clear(void)
{
    if (table == NULL)
        return;
    for (size_t i = 0; i < TABLE_SIZE; i++)
        Py_CLEAR(table[i].value);
    table_used = 0;
}

static inline uint64_t
hash_bytes(const char *s, Py_ssize_t len)
{
    uint64_t h = seed; /* FNV-1a from a per-process basis: colliding words cannot be precomputed */
    for (Py_ssize_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

/* flags of a canonical word, or -1 with an exception set */
static int
flags_of(PyObject *word, const char *raw, Py_ssize_t len)
{
    int flags = 0;
    Py_ssize_t clen = PyUnicode_GET_LENGTH(word);
    if (clen == 0)
        return EMPTY;
    if (clen == len && PyUnicode_IS_ASCII(word) && memcmp(PyUnicode_1BYTE_DATA(word), raw, len) == 0)
        flags |= SAME;
    int r;
    if ((r = PySet_Contains(marks, word)) < 0)
        return -1;
    flags |= r ? MARK : 0;
    if ((r = PySet_Contains(pair_firsts, word)) < 0)
        return -1;
    flags |= r ? FIRST : 0;
    if ((r = PySet_Contains(pair_seconds, word)) < 0)
        return -1;
    flags |= r ? SECOND : 0;
    return flags;
}

/* The slot holding these bytes, or NULL; *free_at: where they would go. */
static inline slot *
probe(uint64_t h, const char *start, Py_ssize_t len, size_t *free_at)
{
    size_t i = (size_t)h & (TABLE_SIZE - 1);
    while (table[i].value != NULL) {
        if (table[i].hash == h && table[i].len == len && memcmp(table[i].key, start, len) == 0)
            return &table[i];
        i = (i + 1) & (TABLE_SIZE - 1);
    }
    *free_at = i;
    return NULL;
}

/* The slot of one raw word, filled in on its first sight. NULL with an exception set on
 * failure, or NULL with none when the table cannot take the word (the caller then leaves the
 * text to the Python path).
 *
 * The slot is valid until the caller next calls back into Python: `canonical` is Python code,
 * during which another thread may run normalize_ascii and empty the table. So this function
 * probes again after the call, and the caller keeps (with a reference) what it needs of a slot
 * across its next lookup. */
static slot *
lookup(const char *start, Py_ssize_t len)
{
    if (len > KEY_MAX)
        return NULL;
    uint64_t h = hash_bytes(start, len);
    size_t at;
    slot *found = probe(h, start, len, &at);
    if (found != NULL)
        return found;
    PyObject *raw = PyUnicode_FromStringAndSize(start, len);
    if (raw == NULL)
        return NULL;
    PyObject *word = PyObject_CallOneArg(canonical, raw);
    Py_DECREF(raw);
    if (word == NULL)
        return NULL;
    if (!PyUnicode_CheckExact(word) || !PyUnicode_IS_ASCII(word)) { /* exact: no Python code in hash or eq */
        Py_DECREF(word);
        PyErr_SetString(PyExc_TypeError, "canonical must return an ASCII str");
        return NULL;
    }
    int flags = flags_of(word, start, len);
    if (flags < 0) {
        Py_DECREF(word);
        return NULL;
    }
    found = probe(h, start, len, &at); /* the table as it is now */
    if (found != NULL || table_used >= TABLE_FULL) {
        Py_DECREF(word);
        return found;
    }
    table[at].hash = h;
    table[at].value = word; /* the table's reference */
    table[at].len = (unsigned char)len;
    table[at].flags = (unsigned char)flags;
    memcpy(table[at].key, start, len);
    table_used++;
    return &table[at];
}

static PyObject *
configure(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer bytes;
    PyObject *fn, *given;
    unsigned long long new_seed = 0;
    if (!PyArg_ParseTuple(args, "y*OO!|K:configure", &bytes, &fn, &PyDict_Type, &given, &new_seed))
        return NULL;
    if (bytes.len != 256 || !PyCallable_Check(fn)) {
        PyBuffer_Release(&bytes);
        PyErr_SetString(PyExc_ValueError, "configure(fold: bytes(256), canonical: callable, pairs: dict)");
        return NULL;
    }
    /* a copy: the tables below are read from it, and a later change to the caller's dict must
     * not reach them */
    PyObject *p = PyDict_Copy(given), *firsts = PySet_New(NULL), *seconds = PySet_New(NULL);
    if (p == NULL || firsts == NULL || seconds == NULL)
        goto error;
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(p, &pos, &key, &value)) {
        if (!PyTuple_Check(key) || PyTuple_GET_SIZE(key) != 2 || !PyUnicode_CheckExact(value)
            || !PyUnicode_IS_ASCII(value)) {
            PyErr_SetString(PyExc_ValueError, "pairs: (first, second) -> ASCII str");
            goto error;
        }
        if (PySet_Add(firsts, PyTuple_GET_ITEM(key, 0)) || PySet_Add(seconds, PyTuple_GET_ITEM(key, 1)))
            goto error;
    }
    if (marks == NULL && (marks = PySet_New(NULL)) == NULL)
        goto error;
    if (table == NULL && (table = PyMem_Calloc(TABLE_SIZE, sizeof(slot))) == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    table_clear(); /* what an earlier `canonical` answered, at the old seed */
    seed = 1469598103934665603ULL ^ (uint64_t)new_seed;
    memcpy(fold, bytes.buf, 256);
    PyBuffer_Release(&bytes);
    Py_INCREF(fn);
    Py_XSETREF(canonical, fn);
    Py_XSETREF(pairs, p);
    Py_XSETREF(pair_firsts, firsts);
    Py_XSETREF(pair_seconds, seconds);
    Py_RETURN_NONE;
error:
    PyBuffer_Release(&bytes);
    Py_XDECREF(p);
    Py_XDECREF(firsts);
    Py_XDECREF(seconds);
    return NULL;
}

/* 1 when configure() has succeeded; else 0 with RuntimeError set */
static int
configured(void)
{
    if (table != NULL && canonical != NULL && marks != NULL)
        return 1;
    PyErr_SetString(PyExc_RuntimeError, "softack._speedups is not configured");
    return 0;
}

static PyObject *
add_marks(PyObject *Py_UNUSED(self), PyObject *words)
{
    if (!configured())
        return NULL;
    PyObject *iter = PyObject_GetIter(words), *word;
    if (iter == NULL)
        return NULL;
    int grew = 0;
    while ((word = PyIter_Next(iter)) != NULL) {
        int known = PySet_Contains(marks, word);
        if (known == 0) {
            grew = 1;
            known = PySet_Add(marks, word);
        }
        Py_DECREF(word);
        if (known < 0)
            break;
    }
    Py_DECREF(iter);
    if (grew) /* also after an error: the marks added so far must not meet stale MARK flags */
        table_clear(); /* the slots' MARK flags were read against fewer marks */
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

/* Room for `more` bytes after the first `len` of *out (a buffer of *cap bytes, on the stack while
 * it is `stack`). 0, or -1 with MemoryError set. */
static int
reserve(char **out, Py_ssize_t *cap, const char *stack, Py_ssize_t len, Py_ssize_t more)
{
    if (len + more <= *cap)
        return 0;
    Py_ssize_t new_cap = 2 * (len + more);
    char *grown = *out == stack ? PyMem_Malloc(new_cap) : PyMem_Realloc(*out, new_cap);
    if (grown == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (*out == stack)
        memcpy(grown, stack, len);
    *out = grown;
    *cap = new_cap;
    return 0;
}

/* Record `word` at `offset` in the dict *present (made on first use), unless it is there already
 * (an earlier offset). 0, or -1 with an exception set. */
static int
add_present(PyObject **present, PyObject *word, Py_ssize_t offset)
{
    if (*present == NULL && (*present = PyDict_New()) == NULL)
        return -1;
    int known = PyDict_Contains(*present, word);
    if (known != 0)
        return known < 0 ? -1 : 0;
    PyObject *at = PyLong_FromSsize_t(offset);
    if (at == NULL)
        return -1;
    int failed = PyDict_SetItem(*present, word, at);
    Py_DECREF(at);
    return failed;
}

static PyObject *
normalize_ascii(PyObject *Py_UNUSED(self), PyObject *text)
{
    if (!configured())
        return NULL;
    if (!PyUnicode_Check(text) || !PyUnicode_IS_ASCII(text)) {
        PyErr_SetString(PyExc_TypeError, "normalize_ascii takes an ASCII str");
        return NULL;
    }
    if (table_used >= TABLE_MAX)
        table_clear(); /* bounded: start again (no caller keeps a slot across a call into Python) */
    const unsigned char *src = PyUnicode_1BYTE_DATA(text);
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    char stack_in[512], stack_out[512];
    char *in = n <= (Py_ssize_t)sizeof(stack_in) ? stack_in : PyMem_Malloc(n);
    char *out = stack_out;
    Py_ssize_t cap = sizeof(stack_out);
    PyObject *present = NULL, *result = NULL, *normalized = NULL;
    Py_ssize_t len = 0;         /* bytes written to out */
    Py_ssize_t prev_start = 0;  /* where the previous word starts in out */
    PyObject *prev = NULL;      /* the previous word, when it may begin a pair (a reference) */
    if (in == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++)
        in[i] = (char)fold[src[i]];
    Py_ssize_t i = 0;
    while (i < n) {
        while (i < n && in[i] == ' ')
            i++;
        if (i == n)
            break;
        Py_ssize_t start = i;
        while (i < n && in[i] != ' ')
            i++;
        slot *s = lookup(in + start, i - start);
        if (s == NULL) {
            if (!PyErr_Occurred()) { /* a word the table cannot take: the Python path reads the text */
                result = Py_NewRef(Py_None);
            }
            goto done;
        }
        int flags = s->flags;
        if (flags & EMPTY)
            continue;
        /* The slot is the table's, and the calls below that allocate Python objects may run
         * other Python code (a garbage collection's finalisers), so a word this iteration uses
         * as an object is held with a reference. Most words are only bytes: no object touched. */
        PyObject *word = NULL;
        if (flags & (SECOND | MARK | FIRST) || !(flags & SAME))
            word = Py_NewRef(s->value);
        int failed = 0;
        if ((flags & SECOND) && prev != NULL) {
            PyObject *folded = NULL;
            PyObject *key = PyTuple_Pack(2, prev, word);
            if (key == NULL)
                failed = 1;
            else {
                folded = Py_XNewRef(PyDict_GetItemWithError(pairs, key));
                Py_DECREF(key);
                failed = folded == NULL && PyErr_Occurred();
            }
            if (folded != NULL) { /* the pair is one word, written over the previous one */
                Py_ssize_t flen = PyUnicode_GET_LENGTH(folded);
                int mark = 0;
                if (!PyUnicode_IS_ASCII(folded)) {
                    PyErr_SetString(PyExc_TypeError, "pairs must fold to ASCII words");
                    failed = 1;
                } else if (reserve(&out, &cap, stack_out, prev_start, flen + 1) < 0) {
                    failed = 1;
                } else {
                    len = prev_start;
                    memcpy(out + len, PyUnicode_1BYTE_DATA(folded), flen);
                    len += flen;
                    mark = PySet_Contains(marks, folded);
                    failed = mark < 0 || (mark && add_present(&present, folded, prev_start) < 0);
                }
                Py_DECREF(folded);
                Py_DECREF(word);
                Py_CLEAR(prev); /* each word is in at most one pair */
                if (failed)
                    goto done;
                continue;
            }
        }
        if (!failed) {
            const char *bytes = (flags & SAME) ? in + start : (const char *)PyUnicode_1BYTE_DATA(word);
            Py_ssize_t wlen = (flags & SAME) ? i - start : PyUnicode_GET_LENGTH(word);
            if (reserve(&out, &cap, stack_out, len, wlen + 1) < 0)
                failed = 1;
            else {
                if (len > 0)
                    out[len++] = ' ';
                prev_start = len;
                memcpy(out + len, bytes, wlen);
                len += wlen;
                failed = (flags & MARK) && add_present(&present, word, prev_start) < 0;
            }
        }
        Py_XSETREF(prev, (flags & FIRST) ? Py_XNewRef(word) : NULL);
        Py_XDECREF(word);
        if (failed)
            goto done;
    }
    normalized = PyUnicode_New(len, 127);
    if (normalized == NULL)
        goto done;
    memcpy(PyUnicode_1BYTE_DATA(normalized), out, len);
    result = PyTuple_Pack(2, normalized, present != NULL ? present : Py_None);
done:
    Py_XDECREF(prev);
    Py_XDECREF(normalized);
    Py_XDECREF(present);
    if (in != NULL && in != stack_in)
        PyMem_Free(in);
    if (out != stack_out)
        PyMem_Free(out);
    return result;
}
/* PhraseFinder.first_of: the phrase found first in `padded` (" " + text + " "); at one position
 * the longest. by_first: {first word: (" word ", [(" phrase ", phrase), ...] longest first)};
 * present: the text's words that may begin a phrase, as {word: lowest offset} or any iterable
 * of words (each then searched from the start). */
static PyObject *
first_phrase(PyObject *Py_UNUSED(self), PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[0]) || !PyUnicode_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "first_phrase(by_first: dict, present, padded: str)");
        return NULL;
    }
    PyObject *by_first = args[0], *present = args[1], *padded = args[2];
    int is_dict = PyDict_Check(present);
    PyObject *iter = NULL;
    if (!is_dict && (iter = PyObject_GetIter(present)) == NULL)
        return NULL;
    Py_ssize_t best = PyUnicode_GET_LENGTH(padded), pos = 0;
    PyObject *matched = Py_NewRef(Py_None), *word, *offset = NULL, *owned = NULL;
    for (;;) {
        Py_ssize_t start = 0;
        Py_CLEAR(owned);
        if (is_dict) {
            if (!PyDict_Next(present, &pos, &word, &offset))
                break;
        } else {
            word = owned = PyIter_Next(iter);
            if (word == NULL) {
                if (PyErr_Occurred())
                    goto error;
                break;
            }
        }
        PyObject *entry = PyDict_GetItemWithError(by_first, word);
        if (entry == NULL) {
            if (PyErr_Occurred())
                goto error;
            continue;
        }
        if (!PyTuple_Check(entry) || PyTuple_GET_SIZE(entry) != 2) {
            PyErr_SetString(PyExc_TypeError, "by_first values must be (key, entries)");
            goto error;
        }
        if (offset != NULL) { /* read only for a word that begins a phrase, as str.find would */
            start = PyNumber_AsSsize_t(offset, NULL); /* out of range: clamped */
            if (start == -1 && PyErr_Occurred())
                goto error;
            if (start < 0)
                start = 0;
        }
        PyObject *key = PyTuple_GET_ITEM(entry, 0), *entries = PyTuple_GET_ITEM(entry, 1);
        if (!PyUnicode_Check(key) || !PyList_Check(entries)) {
            PyErr_SetString(PyExc_TypeError, "by_first values must be (str, list)");
            goto error;
        }
        Py_ssize_t klen = PyUnicode_GET_LENGTH(key);
        Py_ssize_t i = start < best ? PyUnicode_Find(padded, key, start, best + klen, 1) : -1;
        while (0 <= i && i < best) {
            Py_ssize_t n = PyList_GET_SIZE(entries), k;
            for (k = 0; k < n; k++) { /* longest first */
                PyObject *e = PyList_GET_ITEM(entries, k);
                if (!PyTuple_Check(e) || PyTuple_GET_SIZE(e) != 2) {
                    PyErr_SetString(PyExc_TypeError, "entries must be (spaced, phrase) pairs");
                    goto error;
                }
                Py_ssize_t r = PyUnicode_Tailmatch(padded, PyTuple_GET_ITEM(e, 0), i, PY_SSIZE_T_MAX, -1);
                if (r < 0)
                    goto error;
                if (r) {
                    best = i;
                    Py_SETREF(matched, Py_NewRef(PyTuple_GET_ITEM(e, 1)));
                    break;
                }
            }
            if (k < n)
                break;
            i = PyUnicode_Find(padded, key, i + 1, best + klen, 1);
        }
        if (i == -2)
            goto error;
    }
    Py_XDECREF(owned);
    Py_XDECREF(iter);
    return matched;
error:
    Py_XDECREF(owned);
    Py_XDECREF(iter);
    Py_DECREF(matched);
    return NULL;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "Set the tables normalize_ascii uses (softack.normalize does)."},
    {"add_marks", add_marks, METH_O, "Words whose presence normalize_ascii reports."},
    {"normalize_ascii", normalize_ascii, METH_O, "normalize(text) of an ASCII str, and its words that are marks."},
    {"first_phrase", (PyCFunction)(void (*)(void))first_phrase, METH_FASTCALL,
     "PhraseFinder.first_of: the first phrase in padded text, the longest at its position."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "softack._speedups", "The normaliser's hot path for ASCII text.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModule_Create(&module);
}
