/* build_library.c: the driver of `mstars build-library` (stage_laspm.h): Du et al. 2025's
 * golden-sample curation (3.2-3.5) from a spectra store and label tables, into a library
 * file (laspm.h). Serial (rank 0's work; the curation is small next to matching). */
#include "mstars/h5.h"
#include "mstars/join_io.h"
#include "mstars/laspm.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/schema.h"
#include "mstars/stage_laspm.h"
#include "mstars/table.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D MS_LASPM_N_LABELS

typedef struct {
    size_t row;           /* store row */
    double y[D];          /* labels (shifted onto the reference) */
    double snr;
    int cat;              /* catalogue index */
    long bin[D];
} entry;

/* Labels of a table for the store rows: y[n_rows x D] (NaN where absent). [M/H] is the m_h
 * column, or fe_h when the table has no m_h. */
static ms_status table_labels(const char *path, const ms_join_ids *ids, double radius,
                              double *y)
{
    static const char *cols[4] = {"teff", "logg", "m_h", "fe_h"};
    const size_t n_rows = ids->side.n;
    ms_table t;
    memset(&t, 0, sizeof t);
    long *row = ms_malloc_array("library.match", n_rows + 1, sizeof *row);
    ms_status st = row ? ms_table_join("build-library", path, ids, radius, row, NULL)
                       : MS_ENOMEM;
    if (st == MS_OK) st = ms_table_read(path, NULL, cols, 4, &t);
    if (st == MS_OK && (!t.present[0] || !t.present[1] || (!t.present[2] && !t.present[3])))
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: a label table needs the "
                          "columns teff, logg and m_h (or fe_h), and obsid, key or ra+dec", path);
    const int mh = t.present[2] ? 2 : 3;
    for (size_t i = 0; st == MS_OK && i < n_rows; i++)
        for (int d = 0; d < D; d++) {
            int c = d < 2 ? d : mh;
            y[i * D + d] = row[i] >= 0 ? ms_table_column(&t, (size_t)c)[row[i]] : NAN;
        }
    ms_free(row);
    ms_table_free(&t);
    return st;
}

static int cmp_entry(const void *pa, const void *pb)
{
    const entry *a = pa, *b = pb;
    for (int d = 0; d < D; d++)
        if (a->bin[d] != b->bin[d]) return a->bin[d] < b->bin[d] ? -1 : 1;
    if (a->snr != b->snr) return a->snr > b->snr ? -1 : 1; /* highest S/N first */
    return a->row < b->row ? -1 : a->row > b->row;
}

/* Fill non-finite or zero-weight pixels of one spectrum by linear interpolation (nearest
 * value beyond the ends). */
static void fill_gaps(float *f, const float *iv, size_t n)
{
    long last = -1;
    for (size_t p = 0; p <= n; p++) {
        int good = p < n && iv[p] > 0.0f && isfinite(f[p]);
        if (p < n && !good) continue;
        for (size_t q = (size_t)(last + 1); q < p; q++) {
            if (last < 0 && p < n) f[q] = f[p];
            else if (last >= 0 && p == n) f[q] = f[last];
            else if (last >= 0) f[q] = (float)(f[last] + (f[p] - f[last]) * (double)(q - (size_t)last) / (double)(p - (size_t)last));
            else f[q] = 1.0f;
        }
        last = (long)p;
    }
}

typedef struct {
    ms_h5 *store;
    size_t n_rows, n_pix;
    double *wave;
    uint8_t *use;          /* [n_pix] pixels of the DBSCAN distance (all; good ones per pair) */
} store_ctx;

static ms_status read_row(const store_ctx *c, size_t row, float *f, float *iv, float *cont)
{
    MS_TRY(ms_h5_read_rows(c->store, MS_STORE_FLUX, MS_H5_F32, 0, row, 1, f));
    MS_TRY(ms_h5_read_rows(c->store, MS_STORE_IVAR, MS_H5_F32, 0, row, 1, iv));
    if (cont) MS_TRY(ms_h5_read_rows(c->store, MS_STORE_CONTINUUM, MS_H5_F32, 0, row, 1, cont));
    return MS_OK;
}

/* Du 3.4 on one bin of m entries (highest S/N first): DBSCAN on the normalised spectra,
 * the largest cluster kept (ties: the earlier cluster), at most per_bin of it by S/N.
 * keep[m] out. Returns 0 when clustering found no cluster. */
static ms_status dbscan_bin(const store_ctx *c, const entry *e, size_t m, double eps,
                            size_t per_bin, uint8_t *keep, int *clustered)
{
    const size_t np = c->n_pix;
    float *f = ms_malloc_array("library.binflux", m * np + 1, sizeof *f);
    float *iv = ms_malloc_array("library.binivar", m * np + 1, sizeof *iv);
    double *dist = ms_malloc_array("library.dist", m * m + 1, sizeof *dist);
    int *lab = ms_malloc_array("library.lab", m + 1, sizeof *lab);
    ms_status st = f && iv && dist && lab ? MS_OK : MS_ENOMEM;
    for (size_t i = 0; st == MS_OK && i < m; i++)
        st = read_row(c, e[i].row, f + i * np, iv + i * np, NULL);
    *clustered = 0;
    if (st == MS_OK) {
        for (size_t i = 0; i < m; i++) {
            dist[i * m + i] = 0.0;
            for (size_t j = i + 1; j < m; j++)
                dist[i * m + j] = dist[j * m + i] =
                    ms_laspm_distance(np, f + i * np, iv + i * np, f + j * np, iv + j * np, c->use);
        }
        size_t nc = ms_laspm_dbscan(m, dist, eps, ms_laspm_min_pts(m), lab);
        size_t best = 0, best_n = 0;
        for (size_t k = 0; k < nc; k++) {
            size_t cnt = 0;
            for (size_t i = 0; i < m; i++) cnt += lab[i] == (int)k;
            if (cnt > best_n) {
                best_n = cnt;
                best = k;
            }
        }
        size_t kept = 0;
        for (size_t i = 0; i < m; i++) {
            keep[i] = nc > 0 && lab[i] == (int)best && kept < per_bin;
            kept += keep[i];
        }
        *clustered = nc > 0;
    }
    ms_free(f);
    ms_free(iv);
    ms_free(dist);
    ms_free(lab);
    return st;
}

/* Leave-one-out over the library (Du 3.5's internal cross-validation): each entry matched
 * against the rest (every entry of its star left out). */
static ms_status cross_validate(const store_ctx *c, ms_laspm_library *lib, const entry *sel,
                                const ms_laspm_opts *mo, const int64_t *star)
{
    const size_t n = lib->n, np = c->n_pix;
    lib->cv_labels = ms_malloc_array("library.cv", n * D + 1, sizeof(double));
    float *f = ms_malloc_array("library.cvflux", n * np + 1, sizeof *f);
    float *iv = ms_malloc_array("library.cvivar", n * np + 1, sizeof *iv);
    float *cont = ms_malloc_array("library.cvcont", np + 1, sizeof *cont);
    int64_t *ex = ms_malloc_array("library.cvex", n + 1, sizeof *ex);
    ms_laspm_result *res = ms_malloc_array("library.cvres", n + 1, sizeof *res);
    uint8_t *mask = ms_malloc_array("library.mask", np + 1, 1);
    ms_laspm *m = NULL;
    ms_status st = lib->cv_labels && f && iv && cont && ex && res && mask ? MS_OK : MS_ENOMEM;
    /* the pixels `mstars laspm` uses: the store's fit_mask is left out */
    if (st == MS_OK) st = ms_h5_read_rows(c->store, MS_STORE_FIT_MASK, MS_H5_U8, 0, 0, np, mask);
    for (size_t i = 0; st == MS_OK && i < n; i++) {
        st = read_row(c, sel[i].row, f + i * np, iv + i * np, cont);
        ms_laspm_view(lib->view, c->wave, np, mo->wave_min, mo->wave_max, f + i * np,
                      iv + i * np, cont);
        ex[i] = star[sel[i].row];
    }
    if (st == MS_OK && n > 1) st = ms_laspm_prepare(lib, mo, mask, &m);
    if (st == MS_OK && n > 1) st = ms_laspm_match(m, n, f, iv, ex, res);
    for (size_t i = 0; st == MS_OK && i < n; i++)
        for (int d = 0; d < D; d++) lib->cv_labels[i * D + d] = n > 1 ? res[i].label[d] : NAN;
    if (st == MS_OK) {
        for (int d = 0; d < D; d++) {
            double s = 0, s2 = 0;
            size_t k = 0;
            for (size_t i = 0; i < n; i++) {
                double dd = lib->cv_labels[i * D + d] - lib->labels[i * D + d];
                if (!isfinite(dd)) continue;
                s += dd;
                s2 += dd * dd;
                k++;
            }
            if (k > 1)
                ms_log_info("build-library: leave-one-out %s: bias %+.3g, scatter %.3g (%zu "
                            "entries)", ms_laspm_label_names[d], s / (double)k,
                            sqrt(fmax(s2 / (double)k - (s / (double)k) * (s / (double)k), 0.0) *
                                 (double)k / (double)(k - 1)), k);
        }
    }
    ms_laspm_free(m);
    ms_free(mask);
    ms_free(f);
    ms_free(iv);
    ms_free(cont);
    ms_free(ex);
    ms_free(res);
    return st;
}

/* Du 3.5: the NN check; the entries it removes leave the library (compacted in place). */
static ms_status nn_clean(ms_laspm_library *lib, entry *sel, const ms_laspm_nn_opts *no)
{
    uint8_t *keep = ms_malloc_array("library.nnkeep", lib->n + 1, 1);
    if (!keep) return MS_ENOMEM;
    memset(keep, 1, lib->n);
    ms_laspm_nn_report rep;
    ms_status st = ms_laspm_nn_check(lib, no, keep, &rep);
    for (size_t r = 0; st == MS_OK && r < rep.rounds; r++) {
        ms_log_info("build-library: NN check round %zu: %zu train / %zu test, training loss %.3g, "
                    "test RMS %.1f K, %.3f, %.3f dex; %zu removed", r + 1, rep.n_train[r],
                    rep.n_test[r], rep.final_loss[r], rep.test_rms[r][0], rep.test_rms[r][1],
                    rep.test_rms[r][2], rep.removed[r]);
        char name[48];
        snprintf(name, sizeof name, "nn_round%zu_removed", r + 1);
        st = ms_laspm_library_step(lib, name, (int64_t)rep.removed[r]);
        snprintf(name, sizeof name, "nn_round%zu_test_rms_teff_K", r + 1);
        if (st == MS_OK) st = ms_laspm_library_step(lib, name, (int64_t)llround(rep.test_rms[r][0]));
    }
    size_t j = 0;
    for (size_t i = 0; st == MS_OK && i < lib->n; i++) {
        if (!keep[i]) continue;
        if (j != i) {
            memmove(lib->flux + j * lib->n_pix, lib->flux + i * lib->n_pix, lib->n_pix * sizeof(float));
            memmove(lib->labels + j * D, lib->labels + i * D, D * sizeof(double));
            lib->id[j] = lib->id[i];
            lib->snr[j] = lib->snr[i];
            memcpy(lib->name[j], lib->name[i], sizeof lib->name[j]);
            memcpy(lib->source[j], lib->source[i], sizeof lib->source[j]);
            sel[j] = sel[i];
        }
        j++;
    }
    if (st == MS_OK) {
        lib->n = j;
        st = ms_laspm_library_step(lib, "library_after_nn_check", (int64_t)j);
    }
    ms_free(keep);
    return st;
}

ms_status ms_stage_build_library(const ms_config *cfg, const ms_build_library_opts *o)
{
    store_ctx c;
    memset(&c, 0, sizeof c);
    ms_laspm_library lib;
    ms_laspm_library_init(&lib);
    snprintf(lib.view, sizeof lib.view, "%s", o->view);
    ms_join_ids ids;
    memset(&ids, 0, sizeof ids);
    int64_t *star = NULL;
    int32_t *status = NULL;
    double *snr = NULL, *y = NULL, *ref = NULL;
    entry *pool = NULL;
    uint8_t *keep = NULL;
    size_t n_pool = 0;

    ms_status st = ms_h5_open_read(o->spectra, 0, &c.store);
    int rank;
    size_t dims[2] = {0, 0};
    if (st == MS_OK) st = ms_h5_dims(c.store, MS_STORE_FLUX, &rank, dims);
    c.n_rows = dims[0];
    c.n_pix = dims[1];
    const size_t n = c.n_rows, nc = o->n_catalogues;
    if (st == MS_OK) {
        c.wave = ms_malloc_array("library.wave", c.n_pix + 1, sizeof *c.wave);
        c.use = ms_malloc_array("library.use", c.n_pix + 1, 1);
        status = ms_malloc_array("library.status", n + 1, sizeof *status);
        snr = ms_malloc_array("library.snr", n + 1, sizeof *snr);
        y = ms_malloc_array("library.y", nc * n * D + 1, sizeof *y);
        ref = ms_malloc_array("library.ref", n * D + 1, sizeof *ref);
        pool = ms_malloc_array("library.pool", n + 1, sizeof *pool);
        if (!c.wave || !c.use || !status || !snr || !y || !ref || !pool) st = MS_ENOMEM;
    }
    if (st == MS_OK)
        st = ms_h5_read_rows(c.store, MS_STORE_WAVELENGTH, MS_H5_F64, 0, 0, c.n_pix, c.wave);
    if (st == MS_OK) st = ms_h5_read_rows(c.store, MS_META_STATUS, MS_H5_I32, 0, 0, n, status);
    if (st == MS_OK) st = ms_h5_read_rows(c.store, MS_META_SNR_I, MS_H5_F64, 0, 0, n, snr);
    if (st == MS_OK) st = ms_store_join_ids(c.store, n, &ids);
    if (st == MS_OK) st = ms_stage_star_ids(c.store, n, cfg->join.radius_arcsec, &star);
    for (size_t p = 0; st == MS_OK && p < c.n_pix; p++) c.use[p] = 1;
    for (size_t k = 0; st == MS_OK && k < nc; k++)
        st = table_labels(o->catalogues[k], &ids, cfg->join.radius_arcsec, y + k * n * D);
    if (st == MS_OK && o->reference)
        st = table_labels(o->reference, &ids, cfg->join.radius_arcsec, ref);
    size_t usable = 0;
    for (size_t i = 0; st == MS_OK && i < n; i++) usable += status[i] == 0;
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "store_usable", (int64_t)usable);

    /* Du 3.2: each catalogue shifted onto the reference by the mean of the Gaussian core of
     * its differences */
    for (size_t k = 0; st == MS_OK && k < nc; k++) {
        double *yk = y + k * n * D;
        size_t labelled = 0;
        for (size_t i = 0; i < n; i++) labelled += status[i] == 0 && isfinite(yk[i * D]);
        char step[48];
        snprintf(step, sizeof step, "labelled:%s", o->names[k]);
        st = ms_laspm_library_step(&lib, step, (int64_t)labelled);
        if (st != MS_OK || !o->reference) continue;
        for (int d = 0; st == MS_OK && d < D; d++) {
            double *diff = ms_malloc_array("library.diff", n + 1, sizeof *diff);
            if (!diff) { st = MS_ENOMEM; break; }
            for (size_t i = 0; i < n; i++) diff[i] = yk[i * D + d] - ref[i * D + d];
            double mu = 0, sd = 0;
            size_t used = 0;
            if (ms_laspm_gauss_offset(n, diff, &mu, &sd, &used) != MS_OK) {
                ms_log_info("build-library: %s %s: %zu stars in common with the reference: "
                            "no offset applied", o->names[k], ms_laspm_label_names[d], used);
                mu = 0;
            } else {
                ms_log_info("build-library: %s - reference, %s: Gaussian core mean %+.4g, "
                            "sigma %.4g (%zu stars); shifted by %+.4g", o->names[k],
                            ms_laspm_label_names[d], mu, sd, used, -mu);
            }
            for (size_t i = 0; i < n; i++) yk[i * D + d] -= mu;
            ms_free(diff);
            snprintf(step, sizeof step, "offset_x1e4:%s:%s", o->names[k], ms_laspm_label_names[d]);
            if (st == MS_OK) st = ms_laspm_library_step(&lib, step, (int64_t)llround(-mu * 1e4));
        }
    }
    /* priority order (first catalogue wins) and the agreement cuts against the reference */
    size_t n_cut = 0, n_noref = 0;
    for (size_t i = 0; st == MS_OK && i < n; i++) {
        if (status[i] != 0) continue;
        for (size_t k = 0; k < nc; k++) {
            const double *yk = y + (k * n + i) * D;
            if (!isfinite(yk[0]) || !isfinite(yk[1]) || !isfinite(yk[2])) continue;
            int ok = 1, has_ref = o->reference && isfinite(ref[i * D]);
            for (int d = 0; has_ref && d < D; d++)
                ok &= fabs(yk[d] - ref[i * D + d]) < o->cut[d];
            n_noref += !has_ref;
            if (!ok) {
                n_cut++;
                break; /* the adopted (highest-priority) labels disagree: the star is cut */
            }
            entry *e = &pool[n_pool++];
            e->row = i;
            memcpy(e->y, yk, sizeof e->y);
            e->snr = isfinite(snr[i]) ? snr[i] : 0.0;
            e->cat = (int)k;
            for (int d = 0; d < D; d++) e->bin[d] = (long)floor(yk[d] / o->bin[d]);
            break;
        }
    }
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "pool_after_priority_and_cuts", (int64_t)n_pool);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "cut_by_agreement", (int64_t)n_cut);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "without_reference_value", (int64_t)n_noref);
    for (size_t k = 0; st == MS_OK && k < nc; k++) {
        size_t cnt = 0;
        for (size_t i = 0; i < n_pool; i++) cnt += pool[i].cat == (int)k;
        char step[48];
        snprintf(step, sizeof step, "pool_from:%s", o->names[k]);
        st = ms_laspm_library_step(&lib, step, (int64_t)cnt);
    }
    if (st == MS_OK && n_pool == 0)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "build-library: no spectrum of %s "
                          "has labels in the tables given", o->spectra);

    /* Du 3.4: bins, 150 highest S/N, DBSCAN, at most 7 */
    keep = ms_calloc("library.keep", n_pool + 1, 1);
    if (st == MS_OK && !keep) st = MS_ENOMEM;
    size_t n_bins = 0, n_single = 0, n_failed = 0, n_capped = 0, n_dbscan_in = 0, n_keep = 0;
    if (st == MS_OK) qsort(pool, n_pool, sizeof *pool, cmp_entry);
    for (size_t b0 = 0; st == MS_OK && b0 < n_pool;) {
        size_t b1 = b0 + 1;
        while (b1 < n_pool && memcmp(pool[b1].bin, pool[b0].bin, sizeof pool[b0].bin) == 0) b1++;
        n_bins++;
        size_t m = b1 - b0;
        if (m > o->bin_keep) {
            n_capped += m - o->bin_keep;
            m = o->bin_keep;
        }
        if (o->no_dbscan) {
            for (size_t i = 0; i < b1 - b0; i++) keep[b0 + i] = 1;
        } else if (m == 1) {
            keep[b0] = 1; /* Du inspected single-spectrum bins by hand; kept here, counted */
            n_single++;
        } else {
            int clustered;
            n_dbscan_in += m;
            st = dbscan_bin(&c, pool + b0, m, o->eps, o->per_bin, keep + b0, &clustered);
            n_failed += !clustered;
        }
        b0 = b1;
    }
    for (size_t i = 0; i < n_pool; i++) n_keep += keep[i];
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "bins", (int64_t)n_bins);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "dropped_beyond_150_per_bin", (int64_t)n_capped);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "single_spectrum_bins_kept", (int64_t)n_single);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "spectra_into_dbscan", (int64_t)n_dbscan_in);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "bins_without_cluster_dropped", (int64_t)n_failed);
    if (st == MS_OK) st = ms_laspm_library_step(&lib, "library", (int64_t)n_keep);
    if (st == MS_OK && n_keep == 0)
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "build-library: nothing survived the "
                          "curation (see the counts above)");

    /* the library spectra: the view, median 1 over the match range, gaps filled */
    entry *sel = NULL;
    if (st == MS_OK) {
        sel = ms_malloc_array("library.sel", n_keep + 1, sizeof *sel);
        st = sel ? ms_laspm_library_alloc(&lib, n_keep, c.n_pix) : MS_ENOMEM;
    }
    float *iv = NULL, *cont = NULL;
    if (st == MS_OK) {
        iv = ms_malloc_array("library.iv", c.n_pix + 1, sizeof *iv);
        cont = ms_malloc_array("library.cont", c.n_pix + 1, sizeof *cont);
        if (!iv || !cont) st = MS_ENOMEM;
    }
    if (st == MS_OK) memcpy(lib.wavelength, c.wave, c.n_pix * sizeof *c.wave);
    for (size_t i = 0, j = 0; st == MS_OK && i < n_pool; i++) {
        if (!keep[i]) continue;
        sel[j] = pool[i];
        float *f = lib.flux + j * c.n_pix;
        st = read_row(&c, pool[i].row, f, iv, cont);
        ms_laspm_view(lib.view, c.wave, c.n_pix, o->match.wave_min, o->match.wave_max, f, iv, cont);
        fill_gaps(f, iv, c.n_pix);
        memcpy(lib.labels + j * D, pool[i].y, sizeof pool[i].y);
        lib.id[j] = star[pool[i].row];
        lib.snr[j] = pool[i].snr;
        snprintf(lib.name[j], 32, "%s", ids.key[pool[i].row]);
        snprintf(lib.source[j], 32, "%s", o->names[pool[i].cat]);
        j++;
    }
    if (st == MS_OK && o->nn.rounds > 0) st = nn_clean(&lib, sel, &o->nn);
    if (st == MS_OK) st = cross_validate(&c, &lib, sel, &o->match, star);
    if (st == MS_OK) st = ms_laspm_library_write(o->out, &lib, cfg, o->command);
    for (size_t k = 0; st == MS_OK && k < lib.n_steps; k++)
        ms_log_info("build-library: %-40s %lld", lib.step_name[k], (long long)lib.step_count[k]);
    if (st == MS_OK) ms_log_info("build-library: wrote %s (%zu spectra)", o->out, lib.n);
    ms_free(sel);
    ms_free(iv);
    ms_free(cont);
    ms_join_ids_free(&ids);
    ms_free(star);
    ms_free(status);
    ms_free(snr);
    ms_free(y);
    ms_free(ref);
    ms_free(pool);
    ms_free(keep);
    ms_free(c.wave);
    ms_free(c.use);
    if (c.store) ms_h5_close(c.store);
    ms_laspm_library_free(&lib);
    return st;
}
