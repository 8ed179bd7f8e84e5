/* ingest_util.c: see ingest_util.h. */
#include "ingest_util.h"
#include "mstars/native.h"
#include "mstars/schema.h"
#include "mstars/hash.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <string.h>

ms_status ms_strlist_bcast(ms_strlist *l, ms_status st)
{
    st = ms_par_agree(st);
    if (st != MS_OK) {
        if (ms_par_rank() != 0) memset(l, 0, sizeof *l);
        return st;
    }
    uint64_t bytes = l->bytes;
    MS_TRY(ms_par_bcast(&bytes, sizeof bytes));
    if (ms_par_rank() == 0) return ms_par_bcast(l->blob, bytes);
    char *blob = ms_malloc("strlist.blob", bytes ? bytes : 1);
    if (!blob) return MS_ENOMEM; /* the other ranks then fail at their next agreement */
    ms_status bst = ms_par_bcast(blob, bytes);
    if (bst != MS_OK) {
        ms_free(blob);
        return bst;
    }
    memset(l, 0, sizeof *l);
    return ms_strlist_from_blob(l, blob, bytes);
}

uint64_t ms_preprocess_hash(const ms_config *cfg)
{
    uint64_t h = MS_HASH_INIT;
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        if (strncmp(k->key, "preprocess.", 11) != 0) continue;
        char buf[4096];
        ms_config_format_value(cfg, k, buf, sizeof buf);
        h = ms_hash_bytes(h, k->key, strlen(k->key) + 1);
        h = ms_hash_bytes(h, buf, strlen(buf) + 1);
    }
    return h;
}

ms_status ms_store_create_pixels(ms_h5 *f, const ms_config *cfg, size_t n_rows,
                                 int with_continuum)
{
    ms_wgrid grid = ms_spec_grid(&cfg->preprocess);
    size_t dims[2] = {n_rows, grid.n};
    /* chunks of 32 rows (~370 KB): whole-row access for readers, large collective writes */
    MS_TRY(ms_h5_create_dataset(f, MS_STORE_FLUX, MS_H5_F32, 0, 2, dims, 32, "",
                                "continuum-normalised flux on the rest-frame grid "
                                "(NaN where no good data)"));
    MS_TRY(ms_h5_create_dataset(f, MS_STORE_IVAR, MS_H5_F32, 0, 2, dims, 32, "",
                                "inverse variance of the normalised flux (0 = bad pixel)"));
    if (with_continuum)
        MS_TRY(ms_h5_create_dataset(f, MS_STORE_CONTINUUM, MS_H5_F32, 0, 2, dims, 32,
                                    "input flux units",
                                    "Gaussian-kernel pseudo-continuum (Z25 2.4)"));
    double *wave = ms_malloc_array("store.wave", grid.n, sizeof *wave);
    uint8_t *mask = ms_malloc("store.mask", grid.n);
    ms_status st = wave && mask ? MS_OK : MS_ENOMEM;
    if (st == MS_OK) {
        for (size_t i = 0; i < grid.n; i++) wave[i] = grid.start + (double)i * grid.step;
        ms_spec_fit_mask(&cfg->preprocess, grid, mask);
        size_t d1 = grid.n;
        st = ms_h5_write_array(f, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 1, &d1, wave, "Angstrom",
                               "rest-frame vacuum wavelength of each pixel");
        if (st == MS_OK)
            st = ms_h5_write_array(f, MS_STORE_FIT_MASK, MS_H5_U8, 0, 1, &d1, mask, "",
                                   "1 where the pixel lies in a fit mask (preprocess.fit_masks)");
    }
    ms_free(wave);
    ms_free(mask);
    return st;
}

ms_status ms_store_create_native(ms_h5 *f, size_t n_rows)
{
    size_t dims[2] = {n_rows, MS_NATIVE_NPIX};
    MS_TRY(ms_h5_create_dataset(f, MS_STORE_NATIVE_FLUX, MS_H5_F32, 0, 2, dims, 32,
                                "LAMOST flux units", "flux on LAMOST's log-linear lattice "
                                "(/native/loglam), observed frame, not normalised (NaN: no data)"));
    MS_TRY(ms_h5_create_dataset(f, MS_STORE_NATIVE_IVAR, MS_H5_F32, 0, 2, dims, 32, "",
                                "inverse variance of /native/flux (0: no data)"));
    MS_TRY(ms_h5_create_dataset(f, MS_STORE_NATIVE_MASK, MS_H5_U8, 0, 2, dims, 32, "",
                                "0 good; bit 1 ormask != 0, bit 2 andmask != 0, bit 4 no data"));
    double *ll = ms_malloc_array("store.loglam", MS_NATIVE_NPIX, sizeof *ll);
    if (!ll) return MS_ENOMEM;
    for (size_t k = 0; k < MS_NATIVE_NPIX; k++) ll[k] = ms_native_loglam(k);
    size_t d1 = MS_NATIVE_NPIX;
    ms_status st = ms_h5_write_array(f, MS_STORE_NATIVE_LOGLAM, MS_H5_F64, 0, 1, &d1, ll, "log10(A)",
                                     "log10 of the vacuum wavelength of each native pixel, "
                                     "observed (heliocentric) frame");
    ms_free(ll);
    return st;
}

ms_status ms_columns_create(ms_h5 *f, const ms_column *cols, size_t n_rows)
{
    for (const ms_column *c = cols; c->name; c++)
        MS_TRY(ms_h5_create_dataset(f, c->name, c->type, c->str_len, 1, &n_rows, 0, c->units,
                                    c->description));
    return MS_OK;
}

ms_status ms_columns_write(ms_h5 *f, const ms_column *cols, const void *rows, size_t row_size,
                           size_t row0, size_t n, void *buf)
{
    for (const ms_column *c = cols; c->name; c++) {
        size_t e = ms_catalog_column_size(c);
        for (size_t r = 0; r < n; r++)
            memcpy((char *)buf + r * e, (const char *)rows + r * row_size + c->offset, e);
        /* every rank writes every column, or all stop here together: a rank that stopped
         * alone (a full disk) would leave the others in the next collective write */
        MS_TRY(ms_par_any_failed(ms_h5_write_rows(f, c->name, row0, n, buf)));
    }
    return MS_OK;
}

ms_status ms_columns_read(ms_h5 *f, const ms_column *cols, void *rows, size_t row_size,
                          size_t row0, size_t n, void *buf)
{
    for (const ms_column *c = cols; c->name; c++) {
        size_t e = ms_catalog_column_size(c);
        MS_TRY(ms_h5_read_rows(f, c->name, c->type, c->str_len, row0, n, buf));
        for (size_t r = 0; r < n; r++)
            memcpy((char *)rows + r * row_size + c->offset, (const char *)buf + r * e, e);
        if (c->type == MS_H5_STR) /* NUL-padded in the file: terminate the last byte */
            for (size_t r = 0; r < n; r++)
                ((char *)rows + r * row_size + c->offset)[e - 1] = '\0';
    }
    return MS_OK;
}

size_t ms_batches_rounds(size_t n_rows, size_t batch, int ranks)
{
    if (batch == 0 || ranks < 1) return 0;
    size_t nb = (n_rows + batch - 1) / batch;
    return (nb + (size_t)ranks - 1) / (size_t)ranks;
}

size_t ms_batches_mine(size_t n_rows, size_t batch, int ranks, int rank, size_t round,
                       size_t *row0)
{
    size_t b = round * (size_t)ranks + (size_t)rank;
    *row0 = b * batch;
    if (*row0 >= n_rows) {
        *row0 = 0;
        return 0;
    }
    size_t end = *row0 + batch;
    return (end > n_rows ? n_rows : end) - *row0;
}

ms_status ms_store_finish(ms_h5 *f, ms_status st)
{
    if (st == MS_OK) return ms_h5_commit(f);
    if (!f) return st;
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ms_error_message());
    if (st == MS_EHDF5 || st == MS_EIO) /* the store itself could not be written */
        ms_h5_abort_after_write_error(f, msg);
    else
        ms_h5_abort(f);
    return ms_error_set(st, __FILE__, __LINE__, "%s", msg);
}
