/* Nearest-neighbour picking of uint8 pixels: dst[c, i, j] = src[rows[i], cols[j], c].
 *
 * Built as the optional extension kdir_torch.io._pick (setup.py). It is the resize step of the
 * exact libjpeg-turbo decode path (io/turbo_jpeg.py): the row and column indices are PIL's
 * nearest-filter source indices (io/pil_resize._nearest_index), so picking reproduces
 * Image.resize(..., NEAREST) exactly, and the output strides choose the layout (planes or
 * interleaved) in the same pass.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef Py_ssize_t idx_t;

static int fits(const char *name, const Py_buffer *b, idx_t last_byte) {
    if (last_byte >= b->len) {
        PyErr_Format(PyExc_ValueError, "`%s` buffer is smaller than its shape and strides", name);
        return 0;
    }
    return 1;
}

static PyObject *pick(PyObject *self, PyObject *args) {
    Py_buffer src, rows, cols, dst;
    idx_t h, w, c, sh, sw, sc, dc, dh, dw;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*(nnn)(nnn)y*y*w*(nnn)", &src, &h, &w, &c, &sh, &sw, &sc, &rows,
                          &cols, &dst, &dc, &dh, &dw))
        return NULL;
    PyObject *result = NULL;
    idx_t *col_off = NULL, max_off = 0;
    const idx_t nr = rows.len / (idx_t)sizeof(int64_t), nc = cols.len / (idx_t)sizeof(int64_t);
    const int64_t *ri = rows.buf, *ci = cols.buf;
    if (h <= 0 || w <= 0 || c <= 0 || sh < 0 || sw < 0 || sc < 0 || dc < 0 || dh < 0 || dw < 0) {
        PyErr_SetString(PyExc_ValueError, "shapes must be positive and strides non-negative");
        goto done;
    }
    if (!fits("src", &src, (h - 1) * sh + (w - 1) * sw + (c - 1) * sc)) goto done;
    if (nr > 0 && nc > 0 && !fits("dst", &dst, (c - 1) * dc + (nr - 1) * dh + (nc - 1) * dw))
        goto done;
    for (idx_t i = 0; i < nr; i++)
        if (ri[i] < 0 || ri[i] >= h) {
            PyErr_SetString(PyExc_ValueError, "`rows` holds an index outside the image");
            goto done;
        }
    col_off = malloc((size_t)(nc > 0 ? nc : 1) * sizeof(idx_t));
    if (!col_off) {
        PyErr_NoMemory();
        goto done;
    }
    for (idx_t j = 0; j < nc; j++) {
        if (ci[j] < 0 || ci[j] >= w) {
            PyErr_SetString(PyExc_ValueError, "`cols` holds an index outside the image");
            goto done;
        }
        col_off[j] = (idx_t)ci[j] * sw;
        if (col_off[j] > max_off) max_off = col_off[j];
    }
    const uint8_t *s = src.buf;
    uint8_t *d = dst.buf;
    Py_BEGIN_ALLOW_THREADS
    if (c == 3 && sc == 1 && dw == 1) { /* interleaved RGB source to planes: the common case */
        for (idx_t i = 0; i < nr; i++) {
            const uint8_t *row = s + (idx_t)ri[i] * sh;
            uint8_t *d0 = d + i * dh, *d1 = d0 + dc, *d2 = d1 + dc;
            /* a 4-byte load per pixel where every one of the row stays inside the buffer; 8
             * pixels of each plane are packed into one 8-byte store */
            idx_t safe = (row - s) + max_off + 4 <= src.len ? nc : 0;
            idx_t j = 0;
            for (; j + 8 <= safe; j += 8) {
                uint64_t a = 0, b = 0, e = 0;
                for (int l = 0; l < 8; l++) {
                    uint32_t v;
                    memcpy(&v, row + col_off[j + l], 4);
                    a |= (uint64_t)(v & 0xFF) << (8 * l);
                    b |= (uint64_t)((v >> 8) & 0xFF) << (8 * l);
                    e |= (uint64_t)((v >> 16) & 0xFF) << (8 * l);
                }
                memcpy(d0 + j, &a, 8);
                memcpy(d1 + j, &b, 8);
                memcpy(d2 + j, &e, 8);
            }
            for (; j < nc; j++) {
                const uint8_t *q = row + col_off[j];
                d0[j] = q[0];
                d1[j] = q[1];
                d2[j] = q[2];
            }
        }
    } else if (c == 3) {
        for (idx_t i = 0; i < nr; i++) {
            const uint8_t *row = s + (idx_t)ri[i] * sh;
            uint8_t *d0 = d + i * dh, *d1 = d0 + dc, *d2 = d1 + dc;
            for (idx_t j = 0; j < nc; j++) {
                const uint8_t *p = row + col_off[j];
                d0[j * dw] = p[0];
                d1[j * dw] = p[sc];
                d2[j * dw] = p[2 * sc];
            }
        }
    } else {
        for (idx_t i = 0; i < nr; i++) {
            const uint8_t *row = s + (idx_t)ri[i] * sh;
            for (idx_t j = 0; j < nc; j++)
                for (idx_t k = 0; k < c; k++) d[k * dc + i * dh + j * dw] = row[col_off[j] + k * sc];
        }
    }
    Py_END_ALLOW_THREADS
    result = Py_None;
    Py_INCREF(result);
done:
    free(col_off);
    PyBuffer_Release(&src);
    PyBuffer_Release(&rows);
    PyBuffer_Release(&cols);
    PyBuffer_Release(&dst);
    return result;
}

static PyMethodDef methods[] = {
    {"pick", pick, METH_VARARGS,
     "pick(src, (H, W, C), (sh, sw, sc), rows, cols, dst, (dc, dh, dw)) -> None\n\n"
     "dst[c*dc + i*dh + j*dw] = src[rows[i]*sh + cols[j]*sw + c*sc] for uint8 buffers;\n"
     "rows and cols are int64 buffers of indices inside the image. Releases the GIL."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_pick", "nearest-neighbour picking",
                                    -1, methods, NULL, NULL, NULL, NULL};

PyMODINIT_FUNC PyInit__pick(void) { return PyModule_Create(&module); }
