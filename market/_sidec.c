/* The order book's one hot loop, compiled: apply absolute level sizes to one side.
 *
 * Optional: market/book.py falls back to the same loop in Python when this module was not built
 * (no compiler at install time), and tests/market/test_book_accel.py checks that both give the
 * same book, the same return value and the same exceptions for any input.
 *
 * update(levels, keys, items, stamp, insert, drop_alias) -> bool
 *   levels      dict: price text -> (size text, stamp)
 *   keys        dict: float(price) -> price text (the side's spelling index)
 *   items       a sequence of [price, size] pairs
 *   stamp       the update stamp stored with every level set
 *   insert      ``_Side._insert``: called for a new price text only when another live spelling
 *               holds its float or the index is due to be compacted (``fast_insert`` does the
 *               rest: validation and indexing, with ``_insert``'s errors)
 *   drop_alias  called with a zero-size price text not in ``levels`` whose float is indexed
 *               (deletes the level held under another spelling; returns whether it did)
 * Returns whether a level appeared or went (the side must be re-sorted).
 *
 * Semantics, line for line those of ``_Side._update_py``:
 *   qty = float(size)
 *   0 < qty < inf : insert(price) if price not in levels; levels[price] = (size, stamp)
 *   qty == 0      : levels.pop(price) or (keys.get(float(price)) and drop_alias(price))
 *   otherwise     : ValueError("bad size ... at price ...")
 * Anything that is not a str price and size goes through float() all the same (which raises the
 * same errors as Python's); a level that is not a pair raises ValueError as unpacking would.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>

static int
unpack_pair(PyObject *item, PyObject **price, PyObject **size)
{
    if (PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2) {
        *price = PyTuple_GET_ITEM(item, 0);
        *size = PyTuple_GET_ITEM(item, 1);
        return 0;
    }
    if (PyList_CheckExact(item) && PyList_GET_SIZE(item) == 2) {
        *price = PyList_GET_ITEM(item, 0);
        *size = PyList_GET_ITEM(item, 1);
        return 0;
    }
    return -1;
}

static const double POW10[] = {
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* The common spelling of a venue number, [+-]digits[.digits], read exactly: when the digits
 * fit in 53 bits and at most 22 of them follow the point, mantissa / 10^k is one correctly
 * rounded IEEE division of two exact doubles, i.e. the same double float() gives. Anything
 * else (exponents, spaces, underscores, long mantissas, non-ASCII) returns 0: use float(). */
static int
fast_double(PyObject *obj, double *out)
{
    const unsigned char *p, *end;
    unsigned long long mant = 0;
    int digits = 0, frac = 0, seen_point = 0, negative = 0, any_digit = 0;

    if (!PyUnicode_CheckExact(obj) || !PyUnicode_IS_COMPACT_ASCII(obj)) {
        return 0;
    }
    p = (const unsigned char *)PyUnicode_DATA(obj);
    end = p + PyUnicode_GET_LENGTH(obj);
    if (p < end && (*p == '-' || *p == '+')) {
        negative = *p == '-';
        p++;
    }
    if (p == end) {
        return 0;
    }
    for (; p < end; p++) {
        unsigned char c = *p;
        if (c >= '0' && c <= '9') {
            any_digit = 1;
            if (mant || c != '0') {
                if (++digits > 18) {
                    return 0;
                }
                mant = mant * 10 + (c - '0');
            }
            frac += seen_point;
        }
        else if (c == '.' && !seen_point) {
            seen_point = 1;
        }
        else {
            return 0;
        }
    }
    if (!any_digit) { /* "." or "-" alone is not a number */
        return 0;
    }
    if (mant > (1ULL << 53) || frac > 22) {
        return 0;
    }
    *out = negative ? -((double)mant / POW10[frac]) : (double)mant / POW10[frac];
    return 1;
}

/* float(obj) as a C double; sets *failed (and the exception) on failure. */
static double
as_double(PyObject *obj, int *failed)
{
    PyObject *f;
    double v;
    if (fast_double(obj, &v)) {
        *failed = 0;
        return v;
    }
    f = PyNumber_Float(obj);
    if (f == NULL) {
        *failed = 1;
        return -1.0;
    }
    v = PyFloat_AS_DOUBLE(f);
    Py_DECREF(f);
    *failed = 0;
    return v;
}

/* ``_Side._insert`` for the common case: a valid price whose float no other live spelling holds,
 * with no compaction due. Returns 1 when done, 0 when ``insert`` must decide (another spelling,
 * or the index is due to be compacted), -1 with an exception (the same ones ``_insert`` raises). */
static int
fast_insert(PyObject *levels, PyObject *keys, PyObject *price)
{
    int failed;
    double key = as_double(price, &failed);
    PyObject *fkey, *other;
    Py_ssize_t size;

    if (failed) {
        return -1;
    }
    if (!(key > 0.0 && key < Py_HUGE_VAL)) {
        PyErr_Format(PyExc_ValueError, "bad price %R", price);
        return -1;
    }
    fkey = PyFloat_FromDouble(key);
    if (fkey == NULL) {
        return -1;
    }
    other = PyDict_GetItemWithError(keys, fkey); /* borrowed */
    if (other == NULL && PyErr_Occurred()) {
        Py_DECREF(fkey);
        return -1;
    }
    if (other != NULL && other != price) {
        int same = PyObject_RichCompareBool(other, price, Py_EQ);
        int live;
        if (same < 0) {
            Py_DECREF(fkey);
            return -1;
        }
        live = same ? 0 : PyDict_Contains(levels, other);
        if (live != 0) { /* another live spelling (or an error): insert decides */
            Py_DECREF(fkey);
            return live < 0 ? -1 : 0;
        }
    }
    size = PyDict_GET_SIZE(keys) + (other == NULL ? 1 : 0);
    if (size > 2 * PyDict_GET_SIZE(levels) + 256) { /* compaction due: insert does it */
        Py_DECREF(fkey);
        return 0;
    }
    if (PyDict_SetItem(keys, fkey, price) < 0) {
        Py_DECREF(fkey);
        return -1;
    }
    Py_DECREF(fkey);
    return 1;
}

/* The loop itself: 1 when a level appeared or went, 0 when not, -1 with an exception. */
static int
do_update(PyObject *levels, PyObject *keys, PyObject *items, PyObject *stamp, PyObject *insert,
          PyObject *drop_alias)
{
    PyObject *seq = NULL;
    Py_ssize_t i, n;
    int changed = 0;

    if (!PyDict_CheckExact(levels) || !PyDict_CheckExact(keys)) {
        PyErr_SetString(PyExc_TypeError, "update(): levels and keys must be dicts");
        return -1;
    }
    seq = PySequence_Fast(items, "levels must be iterable");
    if (seq == NULL) {
        return -1;
    }
    n = PySequence_Fast_GET_SIZE(seq);
    for (i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        PyObject *price, *size;
        double qty;
        int failed;

        if (unpack_pair(item, &price, &size) < 0) {
            /* tuples and lists of another length, or other sequences: unpack as Python would */
            PyObject *pair = PySequence_Tuple(item);
            if (pair == NULL) {
                goto error;
            }
            if (PyTuple_GET_SIZE(pair) != 2) {
                PyErr_Format(PyExc_ValueError, "a level must be [price, size], got %zd values",
                             PyTuple_GET_SIZE(pair));
                Py_DECREF(pair);
                goto error;
            }
            /* keep the pair alive for this iteration through the item it came from */
            price = PyTuple_GET_ITEM(pair, 0);
            size = PyTuple_GET_ITEM(pair, 1);
            Py_INCREF(price);
            Py_INCREF(size);
            Py_DECREF(pair);
        }
        else {
            Py_INCREF(price);
            Py_INCREF(size);
        }

        qty = as_double(size, &failed);
        if (failed) {
            goto error_level;
        }
        if (qty > 0.0 && qty < Py_HUGE_VAL) {
            PyObject *value;
            PyObject *old = PyDict_GetItemWithError(levels, price); /* borrowed */
            if (old == NULL && PyErr_Occurred()) {
                goto error_level;
            }
#ifndef Py_GIL_DISABLED /* a free-threaded build's reference counts cannot prove sole ownership */
            if (old != NULL && PyTuple_CheckExact(old) && PyTuple_GET_SIZE(old) == 2 && Py_REFCNT(old) == 1) {
                /* The level exists and only the dict holds its (size, stamp) tuple: nobody can
                 * see it change, so it is refilled in place (no allocation, no dict store). */
                PyObject *old_size = PyTuple_GET_ITEM(old, 0), *old_stamp = PyTuple_GET_ITEM(old, 1);
                Py_INCREF(size);
                Py_INCREF(stamp);
                PyTuple_SET_ITEM(old, 0, size);
                PyTuple_SET_ITEM(old, 1, stamp);
                Py_DECREF(old_size);
                Py_DECREF(old_stamp);
                Py_DECREF(price);
                Py_DECREF(size);
                continue;
            }
#endif
            if (old == NULL) {
                int done = fast_insert(levels, keys, price);
                if (done < 0) {
                    goto error_level;
                }
                if (!done) {
                    PyObject *r = PyObject_CallOneArg(insert, price);
                    if (r == NULL) {
                        goto error_level;
                    }
                    Py_DECREF(r);
                }
                changed = 1;
            }
            value = PyTuple_Pack(2, size, stamp);
            if (value == NULL) {
                goto error_level;
            }
            if (PyDict_SetItem(levels, price, value) < 0) {
                Py_DECREF(value);
                goto error_level;
            }
            Py_DECREF(value);
        }
        else if (qty == 0.0) {
            int has = PyDict_Contains(levels, price);
            if (has < 0) {
                goto error_level;
            }
            if (has) {
                if (PyDict_DelItem(levels, price) < 0) {
                    goto error_level;
                }
                changed = 1;
            }
            else {
                double key = as_double(price, &failed);
                PyObject *fkey, *other;
                if (failed) {
                    goto error_level;
                }
                fkey = PyFloat_FromDouble(key);
                if (fkey == NULL) {
                    goto error_level;
                }
                other = PyDict_GetItemWithError(keys, fkey); /* borrowed */
                Py_DECREF(fkey);
                if (other == NULL && PyErr_Occurred()) {
                    goto error_level;
                }
                if (other != NULL && other != Py_None) {
                    PyObject *r = PyObject_CallOneArg(drop_alias, price);
                    int truth;
                    if (r == NULL) {
                        goto error_level;
                    }
                    truth = PyObject_IsTrue(r);
                    Py_DECREF(r);
                    if (truth < 0) {
                        goto error_level;
                    }
                    if (truth) {
                        changed = 1;
                    }
                }
            }
        }
        else {
            PyErr_Format(PyExc_ValueError, "bad size %R at price %R", size, price);
            goto error_level;
        }
        Py_DECREF(price);
        Py_DECREF(size);
        continue;

    error_level:
        Py_DECREF(price);
        Py_DECREF(size);
        goto error;
    }
    Py_DECREF(seq);
    return changed;

error:
    Py_DECREF(seq);
    return -1;
}

static PyObject *
side_update(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int changed;
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "update() takes 6 arguments");
        return NULL;
    }
    changed = do_update(args[0], args[1], args[2], args[3], args[4], args[5]);
    return changed < 0 ? NULL : PyBool_FromLong(changed);
}

/* update_book(bid_side, ask_side, bids, asks, stamp) -> int: both sides of one delta in one
 * call; a side is the tuple (levels, keys, insert, drop_alias). Bit 1: the bids changed shape,
 * bit 2: the asks did. The bids are applied first; an error in them leaves the asks untouched. */
static PyObject *
book_update(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int mask = 0, k;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "update_book() takes 5 arguments");
        return NULL;
    }
    for (k = 0; k < 2; k++) {
        PyObject *side = args[k], *items = args[2 + k];
        int changed;
        if (!PyTuple_CheckExact(side) || PyTuple_GET_SIZE(side) != 4) {
            PyErr_SetString(PyExc_TypeError, "update_book(): a side is (levels, keys, insert, drop_alias)");
            return NULL;
        }
        if (PyTuple_CheckExact(items) && PyTuple_GET_SIZE(items) == 0) {
            continue;
        }
        changed = do_update(PyTuple_GET_ITEM(side, 0), PyTuple_GET_ITEM(side, 1), items, args[4],
                            PyTuple_GET_ITEM(side, 2), PyTuple_GET_ITEM(side, 3));
        if (changed < 0) {
            return NULL;
        }
        mask |= changed << k;
    }
    return PyLong_FromLong(mask);
}

static PyObject *
number(PyObject *module, PyObject *obj)
{
    int failed;
    double v = as_double(obj, &failed);
    return failed ? NULL : PyFloat_FromDouble(v);
}

/* sorted_keys(levels, descending) -> list[float] | None | NotImplemented
 *
 * ``market.book._sorted_keys_py`` for its common input: a tuple of (price, size) tuples of
 * exact str. The float of every price when the levels already are a valid
 * side (every price and size finite, sizes > 0, prices > 0 and strictly best first), else None.
 * Any other input (another container, a level that is not a pair of str) returns NotImplemented:
 * the Python function then decides, so both give the same answer for any input. */
static PyObject *
sorted_keys(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *levels, *keys;
    Py_ssize_t i, n;
    int descending;
    double prev = 0.0;

    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "sorted_keys() takes 2 arguments");
        return NULL;
    }
    levels = args[0];
    descending = PyObject_IsTrue(args[1]);
    if (descending < 0) {
        return NULL;
    }
    if (!PyTuple_CheckExact(levels)) {
        Py_RETURN_NOTIMPLEMENTED;
    }
    n = PyTuple_GET_SIZE(levels);
    /* every level must be a tuple of two exact str (immutable: the book keeps them as they are) */
    for (i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(levels, i), *price, *size;
        if (!PyTuple_CheckExact(item) || unpack_pair(item, &price, &size) < 0 || !PyUnicode_CheckExact(price)
            || !PyUnicode_CheckExact(size)) {
            Py_RETURN_NOTIMPLEMENTED;
        }
    }
    keys = PyList_New(n);
    if (keys == NULL) {
        return NULL;
    }
    for (i = 0; i < n; i++) {
        PyObject *price, *size, *fkey;
        double key, qty;
        int failed;
        unpack_pair(PyTuple_GET_ITEM(levels, i), &price, &size);
        key = as_double(price, &failed);
        if (!failed) {
            qty = as_double(size, &failed);
        }
        if (failed) {
            Py_DECREF(keys);
            if (PyErr_ExceptionMatches(PyExc_ValueError) || PyErr_ExceptionMatches(PyExc_TypeError)) {
                PyErr_Clear();
                Py_RETURN_NONE;
            }
            return NULL;
        }
        if (!isfinite(key) || !isfinite(qty) || !(qty > 0.0) || !(key > 0.0)
            || (i > 0 && (descending ? !(key < prev) : !(key > prev)))) {
            Py_DECREF(keys);
            Py_RETURN_NONE;
        }
        prev = key;
        fkey = PyFloat_FromDouble(key);
        if (fkey == NULL) {
            Py_DECREF(keys);
            return NULL;
        }
        PyList_SET_ITEM(keys, i, fkey);
    }
    return keys;
}

static PyMethodDef sidec_methods[] = {
    {"update_book", (PyCFunction)(void (*)(void))book_update, METH_FASTCALL,
     "update_book(bid_side, ask_side, bids, asks, stamp) -> int: both sides of one delta; bit 1 "
     "and bit 2 say the bids and the asks changed shape."},
    {"sorted_keys", (PyCFunction)(void (*)(void))sorted_keys, METH_FASTCALL,
     "sorted_keys(levels, descending) -> list[float] | None | NotImplemented: the price floats of a "
     "snapshot side that is already valid and sorted (see market/book.py _sorted_keys)."},
    {"number", (PyCFunction)number, METH_O,
     "number(text) -> float: float(text) through the loop's fast reader (for tests)."},
    {"update", (PyCFunction)(void (*)(void))side_update, METH_FASTCALL,
     "update(levels, keys, items, stamp, insert, drop_alias) -> bool: apply absolute sizes to one "
     "side of an order book (see market/book.py)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef sidec_module = {
    PyModuleDef_HEAD_INIT, "market._sidec", "Compiled inner loop of market.book._Side.update.", -1,
    sidec_methods,
};

PyMODINIT_FUNC
PyInit__sidec(void)
{
    return PyModule_Create(&sidec_module);
}
