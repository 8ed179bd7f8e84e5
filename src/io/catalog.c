/* catalog.c: the resumable survey catalog (see catalog.h). */
#include "mstars/catalog.h"
#include "mstars/hash.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define JOURNAL_MAGIC UINT64_C(0x4c4e524a5352534d) /* "MSRSJRNL" */

/* Journal file: header, then records {chunk, row0, n, hash, rows[n * row_size]}. */
typedef struct {
    uint64_t magic, row_size, n_rows, chunk_rows, settings_hash, n_cols;
} journal_header;

typedef struct {
    uint64_t chunk, row0, n, hash;
} record_header;

struct ms_catalog {
    ms_catalog_opts o;
    ms_h5 *f;
    ms_h5_dset **dsets; /* one per column */
    size_t n_cols;
    char journal_dir[4200];
    int journal_fd;
    void *colbuf;       /* chunk_rows * largest column element */
    size_t colbuf_len;
};

size_t ms_catalog_column_size(const ms_catalog_column *c)
{
    switch (c->type) {
    case MS_H5_F32: case MS_H5_I32: case MS_H5_U32: return 4;
    case MS_H5_F64: case MS_H5_I64: return 8;
    case MS_H5_U8: return 1;
    case MS_H5_STR: return c->str_len;
    }
    return 0;
}

static ms_status write_rows(ms_catalog *c, size_t row0, size_t n, const void *rows)
{
    for (size_t k = 0; k < c->n_cols; k++) {
        const ms_catalog_column *col = &c->o.cols[k];
        size_t e = ms_catalog_column_size(col);
        if (n * e > c->colbuf_len) MS_ERROR(MS_EINVAL, "catalog: chunk larger than declared");
        for (size_t r = 0; r < n; r++)
            memcpy((char *)c->colbuf + r * e, (const char *)rows + r * c->o.row_size + col->offset,
                   e);
        MS_TRY(ms_h5_dset_write_rows(c->dsets[k], row0, n, c->colbuf));
    }
    return MS_OK;
}

/* write(2) all of buf: a short write is retried, so a full disk reports ENOSPC rather
 * than a stale errno. 0 on success, -1 with errno set. */
static int write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            if (w == 0) errno = EIO;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

static journal_header make_header(const ms_catalog_opts *o, size_t n_cols)
{
    journal_header h = {JOURNAL_MAGIC, o->row_size, o->n_rows, o->chunk_rows, o->settings_hash,
                        n_cols};
    return h;
}

/* Read one journal file: mark its complete records done, replay them (when c != NULL). */
static ms_status replay_journal(ms_catalog *c, const char *path, uint8_t *done, size_t n_chunks,
                                size_t *n_records)
{
    FILE *f = fopen(path, "rb");
    if (!f) MS_ERROR(MS_EIO, "cannot open journal %s: %s", path, strerror(errno));
    journal_header want = make_header(&c->o, c->n_cols), h;
    ms_status st = MS_OK;
    if (fread(&h, sizeof h, 1, f) != 1) { /* empty: a rank that started no chunk */
        fclose(f);
        return MS_OK;
    }
    if (memcmp(&h, &want, sizeof h) != 0) {
        fclose(f);
        MS_ERROR(MS_EINVAL, "journal %s was written by a run with other settings (rows, chunk "
                 "size, columns or configuration); remove %s to start afresh", path,
                 c->journal_dir);
    }
    void *rows = ms_malloc_array("catalog.replay", c->o.chunk_rows ? c->o.chunk_rows : 1,
                                 c->o.row_size);
    if (!rows) {
        fclose(f);
        return MS_ENOMEM;
    }
    record_header r;
    while (st == MS_OK && fread(&r, sizeof r, 1, f) == 1) {
        if (r.n > c->o.chunk_rows || r.chunk >= n_chunks) break; /* torn or garbage */
        if (fread(rows, c->o.row_size, r.n, f) != r.n) break;    /* torn last record */
        if (ms_hash_bytes(MS_HASH_INIT, rows, r.n * c->o.row_size) != r.hash) break;
        st = write_rows(c, r.row0, r.n, rows);
        done[r.chunk] = 1;
        ++*n_records;
    }
    ms_free(rows);
    fclose(f);
    return st;
}

static ms_status journal_open(ms_catalog *c)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/rank-%d.bin", c->journal_dir, ms_par_rank());
    /* a resumed run appends to a fresh file name when the old one exists (its records
     * have been replayed into this run's catalog and stay valid) */
    for (int k = 1; access(path, F_OK) == 0; k++)
        snprintf(path, sizeof path, "%s/rank-%d.%d.bin", c->journal_dir, ms_par_rank(), k);
    c->journal_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (c->journal_fd < 0) MS_ERROR(MS_EIO, "cannot create journal %s: %s", path, strerror(errno));
    journal_header h = make_header(&c->o, c->n_cols);
    if (write_all(c->journal_fd, &h, sizeof h) != 0 || fsync(c->journal_fd) != 0)
        MS_ERROR(MS_EIO, "cannot write journal %s: %s", path, strerror(errno));
    return MS_OK;
}

static ms_status remove_journals(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return MS_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4300];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
    return MS_OK;
}

/* Rank 0: journal file names of the folder (to replay). */
static ms_status list_journals(const char *dir, char ***names, size_t *n)
{
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return MS_OK;
    struct dirent *e;
    ms_status st = MS_OK;
    while (st == MS_OK && (e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "rank-", 5) != 0) continue;
        char **grown = ms_realloc("catalog.jnames", *names, (*n + 1) * sizeof *grown);
        if (!grown) { st = MS_ENOMEM; break; }
        *names = grown;
        size_t len = strlen(dir) + strlen(e->d_name) + 2;
        (*names)[*n] = ms_malloc("catalog.jname", len);
        if (!(*names)[*n]) { st = MS_ENOMEM; break; }
        snprintf((*names)[*n], len, "%s/%s", dir, e->d_name);
        ++*n;
    }
    closedir(d);
    return st;
}

static void free_names(char **names, size_t n)
{
    for (size_t i = 0; i < n; i++) ms_free(names[i]);
    ms_free(names);
}

/* Record the declaration order of the columns on their group ("column_order"), so that
 * exports list them as declared rather than by name. */
static ms_status write_column_order(ms_catalog *c)
{
    char group[256];
    snprintf(group, sizeof group, "%s", c->o.cols[0].name);
    char *slash = strrchr(group, '/');
    if (!slash || slash == group) return MS_OK;
    *slash = '\0';
    size_t len = 1;
    for (size_t k = 0; k < c->n_cols; k++) len += strlen(c->o.cols[k].name) + 1;
    char *text = ms_malloc("catalog.order", len);
    if (!text) return MS_ENOMEM;
    text[0] = '\0';
    for (size_t k = 0; k < c->n_cols; k++) {
        const char *base = strrchr(c->o.cols[k].name, '/');
        strcat(text, k ? "," : "");
        strcat(text, base ? base + 1 : c->o.cols[k].name);
    }
    ms_status st = ms_h5_attr_set_str(c->f, group, "column_order", text);
    ms_free(text);
    return st;
}

ms_status ms_catalog_open(const ms_catalog_opts *o, ms_catalog **out, uint8_t **done)
{
    *out = NULL;
    *done = NULL;
    size_t n_chunks = o->chunk_rows ? (o->n_rows + o->chunk_rows - 1) / o->chunk_rows : 0;
    ms_catalog *c = ms_calloc("catalog", 1, sizeof *c);
    uint8_t *dn = ms_calloc("catalog.done", n_chunks + 1, 1);
    if (!c || !dn) {
        ms_free(c);
        ms_free(dn);
        return MS_ENOMEM;
    }
    c->o = *o;
    c->journal_fd = -1;
    snprintf(c->journal_dir, sizeof c->journal_dir, "%s.journal", o->path);
    size_t max_e = 8;
    for (const ms_catalog_column *col = o->cols; col->name; col++) {
        c->n_cols++;
        if (ms_catalog_column_size(col) > max_e) max_e = ms_catalog_column_size(col);
    }
    c->colbuf_len = (o->chunk_rows ? o->chunk_rows : 1) * max_e;
    c->colbuf = ms_malloc("catalog.colbuf", c->colbuf_len);
    c->dsets = ms_calloc("catalog.dsets", c->n_cols + 1, sizeof *c->dsets);
    ms_status st = c->colbuf && c->dsets ? MS_OK : MS_ENOMEM;

    /* journals of an earlier run */
    int have_journals = 0;
    if (ms_par_rank() == 0) {
        struct stat sb;
        have_journals = stat(c->journal_dir, &sb) == 0;
        if (have_journals && !o->resume)
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s exists: an earlier run of this "
                              "catalog did not finish; rerun with --resume to continue it, or "
                              "remove %s to start afresh", c->journal_dir, c->journal_dir);
        else if (!have_journals && mkdir(c->journal_dir, 0755) != 0)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot create %s: %s",
                              c->journal_dir, strerror(errno));
    }
    st = ms_par_agree(st);
    if (st == MS_OK) st = ms_par_any_failed(ms_h5_create(o->path, 1, &c->f));
    if (st == MS_OK) { /* the rows and ample metadata: a full disk fails here, not mid-run */
        uint64_t bytes = 65536 + 1024 * (uint64_t)c->n_cols;
        for (const ms_catalog_column *col = o->cols; col->name; col++)
            bytes += (uint64_t)ms_catalog_column_size(col) * o->n_rows;
        st = ms_h5_reserve(c->f, bytes + bytes / 8);
    }
    for (const ms_catalog_column *col = o->cols; st == MS_OK && col->name; col++)
        st = ms_h5_create_dataset(c->f, col->name, col->type, col->str_len, 1, &o->n_rows, 0,
                                  col->units, col->description);
    if (st == MS_OK && c->n_cols > 0) st = write_column_order(c);
    for (size_t k = 0; st == MS_OK && k < c->n_cols; k++)
        st = ms_h5_dset_open(c->f, o->cols[k].name, &c->dsets[k]);
    st = ms_par_any_failed(st);
    /* rank 0 replays every journal (cheap: a few hundred bytes per row) */
    size_t records = 0;
    if (st == MS_OK && ms_par_rank() == 0 && have_journals) {
        char **names;
        size_t n;
        st = list_journals(c->journal_dir, &names, &n);
        for (size_t i = 0; st == MS_OK && i < n; i++)
            st = replay_journal(c, names[i], dn, n_chunks, &records);
        free_names(names, n);
        if (st == MS_OK)
            ms_log_info("resume: %zu chunks found in the journals of %s", records, c->journal_dir);
    }
    st = ms_par_any_failed(st);
    if (st == MS_OK) st = ms_par_bcast(dn, n_chunks);
    if (st == MS_OK) st = ms_par_barrier(); /* the folder exists before ranks write into it */
    if (st == MS_OK) st = ms_par_any_failed(journal_open(c));
    if (st != MS_OK) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ms_error_message());
        for (size_t k = 0; c->dsets && k < c->n_cols; k++) ms_h5_dset_close(c->dsets[k]);
        if (c->f) ms_h5_abort(c->f);
        if (c->journal_fd >= 0) close(c->journal_fd);
        /* a folder this run created holds nothing of value (no chunk was done) */
        if (ms_par_rank() == 0 && !have_journals)
            remove_journals(c->journal_dir);
        ms_free(c->dsets);
        ms_free(c->colbuf);
        ms_free(c);
        ms_free(dn);
        return ms_error_set(st, __FILE__, __LINE__, "%s", msg);
    }
    *out = c;
    *done = dn;
    return MS_OK;
}

ms_status ms_catalog_write_chunk(ms_catalog *c, size_t chunk, size_t row0, size_t n,
                                 const void *rows)
{
    MS_TRY(write_rows(c, row0, n, rows));
    record_header r = {chunk, row0, n, ms_hash_bytes(MS_HASH_INIT, rows, n * c->o.row_size)};
    size_t bytes = n * c->o.row_size;
    if (write_all(c->journal_fd, &r, sizeof r) != 0 || write_all(c->journal_fd, rows, bytes) != 0)
        MS_ERROR(MS_EIO, "writing the journal in %s failed: %s", c->journal_dir, strerror(errno));
    if (fdatasync(c->journal_fd) != 0)
        MS_ERROR(MS_EIO, "syncing the journal in %s failed: %s", c->journal_dir, strerror(errno));
    return MS_OK;
}

ms_h5 *ms_catalog_file(ms_catalog *c) { return c->f; }

ms_status ms_catalog_abort_after_write_error(ms_catalog *c, const char *message)
{
    char msg[6400];
    snprintf(msg, sizeof msg, "%.1024s; the journals in %s are kept: free space, then rerun with "
             "--resume (or remove them to start afresh)", message, c->journal_dir);
    if (c->journal_fd >= 0) close(c->journal_fd);
    c->journal_fd = -1;
    /* the datasets are not closed: closing flushes, which is what failed */
    ms_h5_abort_after_write_error(c->f, msg); /* returns for a serial file only */
    ms_free(c->dsets);
    ms_free(c->colbuf);
    ms_free(c);
    return ms_error_set(MS_EIO, __FILE__, __LINE__, "%s", msg);
}

ms_status ms_catalog_finish(ms_catalog *c, int complete)
{
    for (size_t k = 0; k < c->n_cols; k++) ms_h5_dset_close(c->dsets[k]);
    ms_status st = MS_OK;
    if (c->journal_fd >= 0 && close(c->journal_fd) != 0)
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "closing the journal failed");
    st = ms_par_any_failed(st);
    if (complete && st == MS_OK) {
        st = ms_h5_commit(c->f);
        if (st == MS_OK && ms_par_rank() == 0) remove_journals(c->journal_dir);
        st = ms_par_any_failed(st);
    } else {
        /* keep <path>.partial (never looks complete) and the journals */
        ms_status cst = ms_h5_close(c->f);
        if (st == MS_OK) st = cst;
    }
    ms_free(c->dsets);
    ms_free(c->colbuf);
    ms_free(c);
    return st;
}
