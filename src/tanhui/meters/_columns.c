/* Envelope v1 to columns in one pass over the bytes: the C reader behind
 * tanhui.meters.envelope.decode_columns (docs/decisions/0015-native-envelope-reader.md).
 *
 * It reads only the usual form of an envelope: exactly the known keys, each once; strings of printable
 * ASCII without escapes; integers without fraction or exponent; every item a plain reading. For anything
 * else it returns None, meaning "not sure", and the pure Python reader decides. So it never has to agree
 * with msgspec on an unusual input; a differential test holds it to the Python reader on the usual ones.
 *
 * read(payload) -> None or a tuple:
 *   (v, gateway, seq, boot, sent_at,
 *    meter_keys, meter_index, register_keys, register_index, unit_keys, unit_index,
 *    times, mantissas, decimals)
 * where *_keys are the distinct strings in order of first appearance, *_index and the last three are
 * bytes holding native int64 arrays (one element per reading), and sent_at is the raw string for the
 * caller to parse.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_VALUE_WIDTH 15  /* as envelope._VALUE_WIDTH */

typedef struct {
    const char *p;
    const char *end;
} Cursor;

typedef struct {
    const char *s;
    Py_ssize_t n;
} Span;

static void skip_ws(Cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r')) {
        c->p++;
    }
}

static int expect(Cursor *c, char ch) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != ch) {
        return -1;
    }
    c->p++;
    return 0;
}

/* A string of printable ASCII without escapes; its span without the quotes. */
static int read_string(Cursor *c, Span *out) {
    skip_ws(c);
    if (c->p >= c->end || *c->p != '"') {
        return -1;
    }
    const char *start = ++c->p;
    while (c->p < c->end) {
        unsigned char ch = (unsigned char)*c->p;
        if (ch == '"') {
            out->s = start;
            out->n = c->p - start;
            c->p++;
            return 0;
        }
        if (ch == '\\' || ch < 0x20 || ch >= 0x7f) {
            return -1;
        }
        c->p++;
    }
    return -1;
}

/* A JSON integer (-?(0|[1-9][0-9]*)) of at most 18 digits, not followed by a fraction or exponent. */
static int read_int(Cursor *c, int64_t *out) {
    skip_ws(c);
    int negative = 0;
    if (c->p < c->end && *c->p == '-') {
        negative = 1;
        c->p++;
    }
    const char *start = c->p;
    int64_t value = 0;
    while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
        value = value * 10 + (*c->p - '0');
        c->p++;
        if (c->p - start > 18) {
            return -1;
        }
    }
    Py_ssize_t digits = c->p - start;
    if (digits == 0 || (digits > 1 && *start == '0')) {
        return -1;
    }
    if (c->p < c->end && (*c->p == '.' || *c->p == 'e' || *c->p == 'E')) {
        return -1;
    }
    *out = negative ? -value : value;
    return 0;
}

static int key_is(const Span *key, const char *name) {
    size_t n = strlen(name);
    return (size_t)key->n == n && memcmp(key->s, name, n) == 0;
}

/* Distinct strings of one column, by content, in order of first appearance. */
typedef struct {
    Span *keys;
    Py_ssize_t count;
    Py_ssize_t *slots; /* open addressing: index into keys, or -1 */
    Py_ssize_t mask;
} Interner;

static int interner_init(Interner *t, Py_ssize_t expected) {
    Py_ssize_t size = 16;
    while (size < 2 * expected) {
        size <<= 1;
    }
    t->keys = PyMem_Malloc(sizeof(Span) * (size_t)expected);
    t->slots = PyMem_Malloc(sizeof(Py_ssize_t) * (size_t)size);
    if (t->keys == NULL || t->slots == NULL) {
        PyMem_Free(t->keys);
        PyMem_Free(t->slots);
        return -1;
    }
    memset(t->slots, 0xff, sizeof(Py_ssize_t) * (size_t)size);
    t->count = 0;
    t->mask = size - 1;
    return 0;
}

static void interner_free(Interner *t) {
    PyMem_Free(t->keys);
    PyMem_Free(t->slots);
}

static Py_ssize_t intern_span(Interner *t, const Span *s) {
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (Py_ssize_t i = 0; i < s->n; i++) {
        h = (h ^ (unsigned char)s->s[i]) * 1099511628211ULL;
    }
    Py_ssize_t slot = (Py_ssize_t)(h & (uint64_t)t->mask);
    while (t->slots[slot] >= 0) {
        const Span *k = &t->keys[t->slots[slot]];
        if (k->n == s->n && memcmp(k->s, s->s, (size_t)s->n) == 0) {
            return t->slots[slot];
        }
        slot = (slot + 1) & t->mask;
    }
    t->keys[t->count] = *s;
    t->slots[slot] = t->count;
    return t->count++;
}

static PyObject *interned_list(const Interner *t) {
    PyObject *list = PyList_New(t->count);
    if (list == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < t->count; i++) {
        PyObject *text = PyUnicode_DecodeASCII(t->keys[i].s, t->keys[i].n, NULL);
        if (text == NULL) {
            Py_DECREF(list);
            return NULL;
        }
        PyList_SET_ITEM(list, i, text);
    }
    return list;
}

static const int DAYS_IN_MONTH[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

static int two(const char *s) {
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') {
        return -1;
    }
    return (s[0] - '0') * 10 + (s[1] - '0');
}

/* Epoch seconds of YYYY-MM-DDTHH:MM:SSZ (width 20) or YYYY-MM-DDTHH:MM:SS±hh:mm (width 25), with the
 * ranges envelope.epoch_seconds checks. */
static int parse_time(const Span *t, int64_t *out) {
    const char *s = t->s;
    if (s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':') {
        return -1;
    }
    int yy = two(s), yy2 = two(s + 2), month = two(s + 5), day = two(s + 8);
    int hour = two(s + 11), minute = two(s + 14), second = two(s + 17);
    if (yy < 0 || yy2 < 0 || month < 0 || day < 0 || hour < 0 || minute < 0 || second < 0) {
        return -1;
    }
    int64_t offset = 0;
    if (t->n == 20) {
        if (s[19] != 'Z') {
            return -1;
        }
    } else {
        int oh = two(s + 20), om = two(s + 23);
        if ((s[19] != '+' && s[19] != '-') || s[22] != ':' || oh < 0 || om < 0 || oh > 14 || om > 59) {
            return -1;
        }
        offset = (int64_t)(oh * 3600 + om * 60) * (s[19] == '+' ? 1 : -1);
    }
    int64_t year = yy * 100 + yy2;
    int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    if (year < 1 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) {
        return -1;
    }
    if (day > DAYS_IN_MONTH[month - 1] + (month == 2 && leap)) {
        return -1;
    }
    /* Days since 1970-01-01, counted from years starting in March (as the Python reader). */
    int64_t y = year - (month <= 2);
    int64_t era = y / 400; /* y >= 0 */
    int64_t year_of_era = y - era * 400;
    int64_t day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    int64_t day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    int64_t days = era * 146097 + day_of_era - 719468;
    *out = days * 86400 + hour * 3600 + minute * 60 + second - offset;
    return 0;
}

/* Plain decimal: digits with at most one point between digits, 1 to 15 characters. */
static int parse_value(const Span *v, int64_t *mantissa, int64_t *decimals) {
    if (v->n < 1 || v->n > MAX_VALUE_WIDTH) {
        return -1;
    }
    int64_t m = 0;
    Py_ssize_t point = -1;
    for (Py_ssize_t i = 0; i < v->n; i++) {
        char ch = v->s[i];
        if (ch == '.') {
            if (point >= 0 || i == 0 || i == v->n - 1) {
                return -1;
            }
            point = i;
        } else if (ch >= '0' && ch <= '9') {
            m = m * 10 + (ch - '0');
        } else {
            return -1;
        }
    }
    *mantissa = m;
    *decimals = point >= 0 ? v->n - 1 - point : 0;
    return 0;
}

enum { K_METER = 1, K_REGISTER = 2, K_VALUE = 4, K_UNIT = 8, K_TIME = 16, K_PROTOCOL = 32, K_FRAME = 64 };
#define K_REQUIRED (K_METER | K_REGISTER | K_VALUE | K_UNIT | K_TIME)

typedef struct {
    Interner meters, registers, units;
    int64_t *meter_index, *register_index, *unit_index, *times, *mantissas, *decimals;
    Py_ssize_t count, capacity;
    Py_ssize_t time_width;
} Columns;

/* One plain reading; -1 when it is anything else. */
static int read_item(Cursor *c, Columns *out) {
    if (expect(c, '{') < 0) {
        return -1;
    }
    Span meter = {0}, reg = {0}, value = {0}, unit = {0}, time = {0};
    int seen = 0;
    skip_ws(c);
    if (c->p < c->end && *c->p == '}') {
        return -1;
    }
    for (;;) {
        Span key, text;
        if (read_string(c, &key) < 0 || expect(c, ':') < 0 || read_string(c, &text) < 0) {
            return -1;
        }
        int bit;
        if (key_is(&key, "meter")) {
            bit = K_METER, meter = text;
        } else if (key_is(&key, "register")) {
            bit = K_REGISTER, reg = text;
        } else if (key_is(&key, "value")) {
            bit = K_VALUE, value = text;
        } else if (key_is(&key, "unit")) {
            bit = K_UNIT, unit = text;
        } else if (key_is(&key, "time")) {
            bit = K_TIME, time = text;
        } else if (key_is(&key, "protocol")) {
            bit = K_PROTOCOL;
        } else if (key_is(&key, "frame")) {
            bit = K_FRAME;
        } else {
            return -1;
        }
        /* A repeated key, or a frame item (non-empty protocol or frame): not the usual form. */
        if ((seen & bit) || ((bit == K_PROTOCOL || bit == K_FRAME) && text.n != 0)) {
            return -1;
        }
        seen |= bit;
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (expect(c, '}') < 0) {
            return -1;
        }
        break;
    }
    if ((seen & K_REQUIRED) != K_REQUIRED || meter.n == 0 || reg.n == 0 || unit.n == 0) {
        return -1;
    }
    if (time.n != 20 && time.n != 25) {
        return -1;
    }
    if (out->time_width == 0) {
        out->time_width = time.n;
    } else if (out->time_width != time.n) {
        return -1; /* the Python reader takes one form of time per envelope */
    }
    Py_ssize_t i = out->count;
    if (i >= out->capacity) {
        return -1;
    }
    if (parse_time(&time, &out->times[i]) < 0 || parse_value(&value, &out->mantissas[i], &out->decimals[i]) < 0) {
        return -1;
    }
    out->meter_index[i] = intern_span(&out->meters, &meter);
    out->register_index[i] = intern_span(&out->registers, &reg);
    out->unit_index[i] = intern_span(&out->units, &unit);
    out->count++;
    return 0;
}

static int read_items(Cursor *c, Columns *out) {
    if (expect(c, '[') < 0) {
        return -1;
    }
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        return -1; /* no readings: the Python reader declines too */
    }
    for (;;) {
        if (read_item(c, out) < 0) {
            return -1;
        }
        skip_ws(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        return expect(c, ']');
    }
}

static PyObject *int64_bytes(const int64_t *values, Py_ssize_t n) {
    return PyBytes_FromStringAndSize((const char *)values, n * (Py_ssize_t)sizeof(int64_t));
}

static PyObject *columns_read(PyObject *module, PyObject *arg) {
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    Cursor c = {(const char *)view.buf, (const char *)view.buf + view.len};
    /* An item takes at least 60 bytes; this bounds the readings without counting them first. */
    Py_ssize_t capacity = view.len / 60 + 1;
    Columns out;
    memset(&out, 0, sizeof(out));
    PyObject *result = NULL;
    int64_t *block = PyMem_Malloc(sizeof(int64_t) * 6 * (size_t)capacity);
    if (block == NULL || interner_init(&out.meters, capacity) < 0) {
        PyMem_Free(block);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    if (interner_init(&out.registers, capacity) < 0) {
        interner_free(&out.meters);
        PyMem_Free(block);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    if (interner_init(&out.units, capacity) < 0) {
        interner_free(&out.meters);
        interner_free(&out.registers);
        PyMem_Free(block);
        PyBuffer_Release(&view);
        return PyErr_NoMemory();
    }
    out.capacity = capacity;
    out.meter_index = block;
    out.register_index = block + capacity;
    out.unit_index = block + 2 * capacity;
    out.times = block + 3 * capacity;
    out.mantissas = block + 4 * capacity;
    out.decimals = block + 5 * capacity;

    int64_t version = 0, seq = 0;
    Span gateway = {0}, boot = {"", 0}, sent_at = {0};
    int seen = 0; /* v, gateway, seq, sent_at, readings, boot */
    int ok = expect(&c, '{') == 0;
    skip_ws(&c);
    if (ok && c.p < c.end && *c.p == '}') {
        ok = 0;
    }
    while (ok) {
        Span key;
        if (read_string(&c, &key) < 0 || expect(&c, ':') < 0) {
            ok = 0;
            break;
        }
        int bit;
        if (key_is(&key, "v")) {
            bit = 1, ok = read_int(&c, &version) == 0;
        } else if (key_is(&key, "gateway")) {
            bit = 2, ok = read_string(&c, &gateway) == 0;
        } else if (key_is(&key, "seq")) {
            bit = 4, ok = read_int(&c, &seq) == 0;
        } else if (key_is(&key, "sent_at")) {
            bit = 8, ok = read_string(&c, &sent_at) == 0;
        } else if (key_is(&key, "readings")) {
            bit = 16, ok = read_items(&c, &out) == 0;
        } else if (key_is(&key, "boot")) {
            bit = 32, ok = read_string(&c, &boot) == 0;
        } else {
            ok = 0;
            break;
        }
        if (!ok || (seen & bit)) {
            ok = 0;
            break;
        }
        seen |= bit;
        skip_ws(&c);
        if (c.p < c.end && *c.p == ',') {
            c.p++;
            continue;
        }
        ok = expect(&c, '}') == 0;
        break;
    }
    skip_ws(&c);
    if (ok && c.p == c.end && (seen & 31) == 31) {
        PyObject *meters = interned_list(&out.meters);
        PyObject *registers = interned_list(&out.registers);
        PyObject *units = interned_list(&out.units);
        if (meters != NULL && registers != NULL && units != NULL) {
            result = Py_BuildValue(
                "(Ls#Ls#s#NNNNNNNNN)", (long long)version, gateway.s, gateway.n, (long long)seq, boot.s,
                boot.n, sent_at.s, sent_at.n, meters, int64_bytes(out.meter_index, out.count), registers,
                int64_bytes(out.register_index, out.count), units, int64_bytes(out.unit_index, out.count),
                int64_bytes(out.times, out.count), int64_bytes(out.mantissas, out.count),
                int64_bytes(out.decimals, out.count));
        } else {
            Py_XDECREF(meters);
            Py_XDECREF(registers);
            Py_XDECREF(units);
        }
    } else {
        result = Py_NewRef(Py_None);
    }
    interner_free(&out.meters);
    interner_free(&out.registers);
    interner_free(&out.units);
    PyMem_Free(block);
    PyBuffer_Release(&view);
    return result;
}

static PyMethodDef methods[] = {
    {"read", columns_read, METH_O, "An envelope's readings as columns, or None when not in the usual form."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_columns",
    .m_doc = NULL,
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC PyInit__columns(void) { return PyModule_Create(&module); }
