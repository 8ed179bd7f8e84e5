/* h5.c: HDF5 files of mstars, serial or parallel (see h5.h).
 *
 * HDF5's automatic error printing is switched off; on failure we walk the error stack
 * for its innermost description and put it into our message next to the file and
 * dataset names, so users see one clear line instead of a stack dump. */
#include "mstars/h5.h"
#include "mstars/buildinfo.h"
#include "mstars/log.h"
#include "mstars/mem.h"
#include "mstars/par.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ms_h5 {
    hid_t file;
    int reserved;         /* ms_h5_reserve: trim to the end of allocation at commit */
    int parallel;
    int writable;
    int rename_on_commit; /* created as <path>.partial */
    int step_marker;      /* opened by ms_h5_open_update_step: commit removes "updating" */
    char path[PATH_MAX];
    char partial[PATH_MAX + 16];
};

/* ---------------------------------------------------------------- error handling */

static herr_t walk_cb(unsigned n, const H5E_error2_t *err, void *data)
{
    (void)n;
    char *buf = data;
    if (err->desc && err->desc[0]) snprintf(buf, 256, "%s", err->desc);
    return 0;
}

/* The innermost message of the HDF5 error stack ("" when none). */
static void hdf5_reason(char *buf)
{
    buf[0] = '\0';
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, buf);
    H5Eclear2(H5E_DEFAULT);
}

#define H5_FAIL(f, what, ...)                                                              \
    do {                                                                                   \
        char reason_[256];                                                                 \
        hdf5_reason(reason_);                                                              \
        char ctx_[512];                                                                    \
        snprintf(ctx_, sizeof ctx_, __VA_ARGS__);                                          \
        return ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: %s %s%s%s", (f)->path,     \
                            (what), ctx_, reason_[0] ? ": " : "", reason_);                \
    } while (0)

/* As H5_FAIL, setting st instead of returning. */
#define H5_FAIL_ST(st, f, what, ...)                                                       \
    do {                                                                                   \
        char reason_[256];                                                                 \
        hdf5_reason(reason_);                                                              \
        char ctx_[512];                                                                    \
        snprintf(ctx_, sizeof ctx_, __VA_ARGS__);                                          \
        (st) = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: %s %s%s%s", (f)->path,     \
                            (what), ctx_, reason_[0] ? ": " : "", reason_);                \
    } while (0)

static void quiet_hdf5(void)
{
    static int done;
    if (!done) {
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
        done = 1;
    }
}

/* ---------------------------------------------------------------- types */

static hid_t mem_type(ms_h5_type t, size_t str_len)
{
    switch (t) {
    case MS_H5_F32: return H5Tcopy(H5T_NATIVE_FLOAT);
    case MS_H5_F64: return H5Tcopy(H5T_NATIVE_DOUBLE);
    case MS_H5_I32: return H5Tcopy(H5T_NATIVE_INT32);
    case MS_H5_I64: return H5Tcopy(H5T_NATIVE_INT64);
    case MS_H5_U8: return H5Tcopy(H5T_NATIVE_UINT8);
    case MS_H5_U32: return H5Tcopy(H5T_NATIVE_UINT32);
    case MS_H5_STR: {
        hid_t s = H5Tcopy(H5T_C_S1);
        if (s < 0) return s;
        if (H5Tset_size(s, str_len ? str_len : 1) < 0 || H5Tset_strpad(s, H5T_STR_NULLPAD) < 0) {
            H5Tclose(s);
            return -1;
        }
        return s;
    }
    }
    return -1;
}

/* Little-endian, fixed-size types in the file whatever the machine. */
static hid_t file_type(ms_h5_type t, size_t str_len)
{
    switch (t) {
    case MS_H5_F32: return H5Tcopy(H5T_IEEE_F32LE);
    case MS_H5_F64: return H5Tcopy(H5T_IEEE_F64LE);
    case MS_H5_I32: return H5Tcopy(H5T_STD_I32LE);
    case MS_H5_I64: return H5Tcopy(H5T_STD_I64LE);
    case MS_H5_U8: return H5Tcopy(H5T_STD_U8LE);
    case MS_H5_U32: return H5Tcopy(H5T_STD_U32LE);
    case MS_H5_STR: return mem_type(t, str_len);
    }
    return -1;
}

/* ---------------------------------------------------------------- files */

static hid_t make_fapl(int parallel)
{
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS);
    if (fapl < 0) return fapl;
    if (parallel) {
        if (H5Pset_fapl_mpio(fapl, MPI_COMM_WORLD, MPI_INFO_NULL) < 0 ||
            H5Pset_all_coll_metadata_ops(fapl, 1) < 0 || H5Pset_coll_metadata_write(fapl, 1) < 0) {
            H5Pclose(fapl);
            return -1;
        }
    }
    /* the 1.10 format: readable by every HDF5 >= 1.10 (h5py, TOPCAT's HDF5 plugin) */
    if (H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_V110) < 0) {
        H5Pclose(fapl);
        return -1;
    }
    return fapl;
}

static ms_status h5_alloc(const char *path, int parallel, ms_h5 **out)
{
    quiet_hdf5();
    if (strlen(path) >= PATH_MAX) MS_ERROR(MS_EINVAL, "path too long: %s", path);
    ms_h5 *f = ms_calloc("h5.handle", 1, sizeof *f);
    if (!f) return MS_ENOMEM;
    f->file = -1;
    f->parallel = parallel && ms_par_active();
    snprintf(f->path, sizeof f->path, "%s", path);
    snprintf(f->partial, sizeof f->partial, "%s.partial", path);
    *out = f;
    return MS_OK;
}

const char *ms_h5_path(const ms_h5 *f) { return f->path; }

ms_status ms_h5_create(const char *path, int parallel, ms_h5 **out)
{
    ms_h5 *f;
    MS_TRY(h5_alloc(path, parallel, &f));
    hid_t fapl = make_fapl(f->parallel);
    if (fapl >= 0) {
        f->file = H5Fcreate(f->partial, H5F_ACC_TRUNC, H5P_DEFAULT, fapl);
        H5Pclose(fapl);
    }
    if (f->file < 0) {
        char reason[256];
        hdf5_reason(reason);
        /* HDF5 does not say why (a missing or read-only folder, a full disk): ask */
        if (ms_h5_check_writable(f->partial) != MS_OK) {
            snprintf(reason, sizeof reason, "%s", ms_error_message());
            char *colon = strstr(reason, ": ");
            if (colon) memmove(reason, colon + 2, strlen(colon + 2) + 1);
        }
        ms_status st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "cannot create %s%s%s",
                                    f->partial, reason[0] ? ": " : "", reason);
        ms_free(f);
        return st;
    }
    f->writable = 1;
    f->rename_on_commit = 1;
    *out = f;
    return MS_OK;
}

ms_status ms_h5_check_writable(const char *path)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (!slash) snprintf(dir, sizeof dir, ".");
    else if (slash == dir) dir[1] = '\0';
    else *slash = '\0';
    char probe[PATH_MAX + 64];
    snprintf(probe, sizeof probe, "%s/.mstars-write-test-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        MS_ERROR(MS_EIO, "cannot write %s: folder %s: %s", path, dir, strerror(errno));
    close(fd);
    unlink(probe);
    return MS_OK;
}

static ms_status check_complete(ms_h5 *f)
{
    int64_t complete = 0;
    size_t n = 0;
    if (ms_h5_attr_get_i64(f, "/", "complete", &complete, 1, &n) != MS_OK || n != 1 ||
        complete != 1)
        MS_ERROR(MS_EFORMAT, "%s is incomplete: the run that wrote it did not finish "
                 "(attribute 'complete' is not 1); run that step again", f->path);
    return MS_OK;
}

/* A file left incomplete by an interrupted update of `step` (root attribute "updating"). */
static int interrupted_step(ms_h5 *f, const char *step)
{
    char *was = NULL;
    int same = step && ms_h5_attr_get_str(f, "/", "updating", &was) == MS_OK &&
               strcmp(was, step) == 0;
    ms_free(was);
    return same;
}

/* Open an existing file; it must be complete, or (step != NULL) left incomplete by an
 * interrupted update of that step (*recovered = 1). */
static ms_status open_existing(const char *path, int parallel, unsigned flags, const char *step,
                               int *recovered, ms_h5 **out)
{
    if (recovered) *recovered = 0;
    ms_h5 *f;
    MS_TRY(h5_alloc(path, parallel, &f));
    if (access(path, F_OK) != 0) {
        int has_partial = access(f->partial, F_OK) == 0;
        ms_free(f);
        if (has_partial)
            MS_ERROR(MS_EIO, "%s does not exist; only %s.partial does: the run writing it did "
                     "not finish", path, path);
        MS_ERROR(MS_EIO, "%s: %s", path, strerror(errno));
    }
    hid_t fapl = make_fapl(f->parallel);
    if (fapl >= 0) {
        f->file = H5Fopen(path, flags, fapl);
        H5Pclose(fapl);
    }
    if (f->file < 0) {
        char reason[256];
        hdf5_reason(reason);
        ms_free(f);
        MS_ERROR(MS_EHDF5, "%s is not a readable HDF5 file%s%s", path, reason[0] ? ": " : "",
                 reason);
    }
    ms_status st = check_complete(f);
    if (st != MS_OK && step) {
        char msg[1024];
        snprintf(msg, sizeof msg, "%s", ms_error_message());
        if (interrupted_step(f, step)) {
            ms_log_warn("%s was left incomplete by an interrupted %s; running it again", path,
                        step);
            ms_error_clear();
            st = MS_OK;
            if (recovered) *recovered = 1;
        } else {
            st = ms_error_set(st, __FILE__, __LINE__, "%s", msg);
        }
    }
    if (st != MS_OK) {
        H5Fclose(f->file);
        ms_free(f);
        return st;
    }
    *out = f;
    return MS_OK;
}

ms_status ms_h5_open_read(const char *path, int parallel, ms_h5 **out)
{
    return open_existing(path, parallel, H5F_ACC_RDONLY, NULL, NULL, out);
}

static ms_status open_update(const char *path, int parallel, const char *step, int *recovered,
                             ms_h5 **out)
{
    MS_TRY(open_existing(path, parallel, H5F_ACC_RDWR, step, recovered, out));
    ms_h5 *f = *out;
    f->writable = 1;
    f->step_marker = step != NULL;
    int64_t zero = 0;
    ms_status st = ms_h5_attr_set_i64(f, "/", "complete", &zero, 1);
    if (st == MS_OK && step) st = ms_h5_attr_set_str(f, "/", "updating", step);
    if (st == MS_OK && H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0)
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: flush failed", f->path);
    if (st != MS_OK) {
        H5Fclose(f->file);
        ms_free(f);
        *out = NULL;
    }
    return st;
}

ms_status ms_h5_open_update(const char *path, int parallel, ms_h5 **out)
{
    return open_update(path, parallel, NULL, NULL, out);
}

ms_status ms_h5_open_update_step(const char *path, int parallel, const char *step,
                                 ms_h5 **out, int *recovered)
{
    return open_update(path, parallel, step, recovered, out);
}

ms_status ms_h5_flush(ms_h5 *f)
{
    if (H5Fflush(f->file, H5F_SCOPE_GLOBAL) < 0) H5_FAIL(f, "flushing", "%s", "the file (disk full?)");
    return MS_OK;
}

int ms_h5_parallel(const ms_h5 *f) { return f->parallel; }

ms_status ms_h5_reserve(ms_h5 *f, uint64_t bytes)
{
    ms_status st = MS_OK;
    if (!f->parallel || ms_par_rank() == 0) {
        int fd = open(f->partial, O_WRONLY);
        int rc = fd < 0 ? errno : fallocate(fd, 0, 0, (off_t)bytes) == 0 ? 0 : errno;
        if (fd >= 0) close(fd);
        if (rc == 0)
            f->reserved = 1;
        else if (rc != EOPNOTSUPP && rc != ENOSYS)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "%s: cannot reserve %.1f MiB for "
                              "it: %s", f->partial, (double)bytes / 1048576.0, strerror(rc));
    }
    if (f->parallel) {
        st = ms_par_any_failed(st);
        if (st == MS_OK) st = ms_par_bcast(&f->reserved, sizeof f->reserved);
    }
    return st;
}

/* Give back the reserved space past HDF5's end of allocation (the superblock's end-of-file
 * address, read through the serial driver: the MPI-IO one cannot tell it). */
static ms_status trim_reserved(ms_h5 *f)
{
    haddr_t eoa = 0;
    hid_t h = H5Fopen(f->partial, H5F_ACC_RDONLY, H5P_DEFAULT);
    herr_t rc = h >= 0 ? H5Fget_eoa(h, &eoa) : -1;
    if (h >= 0) H5Fclose(h);
    if (rc < 0 || eoa == 0) {
        char reason[256];
        hdf5_reason(reason);
        MS_ERROR(MS_EHDF5, "%s: cannot read its end of allocation%s%s", f->partial,
                 reason[0] ? ": " : "", reason);
    }
    if (truncate(f->partial, (off_t)eoa) != 0)
        MS_ERROR(MS_EIO, "cannot trim %s: %s", f->partial, strerror(errno));
    return MS_OK;
}

ms_status ms_h5_commit(ms_h5 *f)
{
    int64_t one = 1;
    ms_status st = MS_OK;
    if (f->step_marker && H5Adelete_by_name(f->file, "/", "updating", H5P_DEFAULT) < 0)
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: cannot remove the attribute "
                          "'updating'", f->path);
    if (st == MS_OK) st = ms_h5_attr_set_i64(f, "/", "complete", &one, 1);
    if (H5Fclose(f->file) < 0 && st == MS_OK)
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: closing the file failed (disk "
                          "full?)", f->path);
    f->file = -1;
    if (f->parallel) st = ms_par_any_failed(st);
    if (st == MS_OK && f->rename_on_commit && (!f->parallel || ms_par_rank() == 0)) {
        if (f->reserved) st = trim_reserved(f);
        if (st == MS_OK && rename(f->partial, f->path) != 0)
            st = ms_error_set(MS_EIO, __FILE__, __LINE__, "cannot rename %s to %s: %s",
                              f->partial, f->path, strerror(errno));
    }
    if (f->parallel) st = ms_par_any_failed(st);
    ms_free(f);
    return st;
}

void ms_h5_abort(ms_h5 *f)
{
    if (!f) return;
    if (f->file >= 0) H5Fclose(f->file);
    if (f->rename_on_commit && (!f->parallel || ms_par_rank() == 0)) unlink(f->partial);
    ms_free(f);
}

void ms_h5_remove_partial(const ms_h5 *f)
{
    if (f && f->rename_on_commit && (!f->parallel || ms_par_rank() == 0)) unlink(f->partial);
}

void ms_h5_abort_after_write_error(ms_h5 *f, const char *message)
{
    if (!f) return;
    if (!f->parallel) {
        ms_h5_abort(f);
        return;
    }
    if (ms_par_rank() == 0) {
        if (f->rename_on_commit) unlink(f->partial);
        ms_log_error("%s; %s removed, stopping all ranks", message, f->partial);
    }
    ms_par_abort_all(1); /* rank 0 aborts after the unlink; the others wait for it */
}

ms_status ms_h5_close(ms_h5 *f)
{
    if (!f) return MS_OK;
    ms_status st = MS_OK;
    if (f->file >= 0 && H5Fclose(f->file) < 0)
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: close failed", f->path);
    ms_free(f);
    return st;
}

/* ---------------------------------------------------------------- datasets */

ms_status ms_h5_unlink(ms_h5 *f, const char *name)
{
    if (H5Ldelete(f->file, name, H5P_DEFAULT) < 0) {
        H5Eclear2(H5E_DEFAULT);
        MS_ERROR(MS_EHDF5, "%s: cannot remove %s", f->path, name);
    }
    return MS_OK;
}

int ms_h5_exists(ms_h5 *f, const char *name)
{
    /* H5Lexists needs each parent to exist: check the path component by component */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", name);
    for (char *p = buf + 1; ; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            htri_t e = H5Lexists(f->file, buf, H5P_DEFAULT);
            if (e <= 0) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
            if (c == '\0') return 1;
            *p = c;
        }
    }
}

ms_status ms_h5_create_dataset(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                               int rank, const size_t *dims, size_t chunk_rows,
                               const char *units, const char *description)
{
    if (rank < 1 || rank > 2) MS_ERROR(MS_EINVAL, "%s: dataset %s: rank %d", f->path, name, rank);
    hsize_t hd[2] = {dims[0], rank == 2 ? dims[1] : 1};
    hid_t space = H5Screate_simple(rank, hd, NULL);
    hid_t ftype = file_type(type, str_len);
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    hid_t dset = -1;
    if (space >= 0 && ftype >= 0 && lcpl >= 0 && dcpl >= 0 &&
        H5Pset_create_intermediate_group(lcpl, 1) >= 0) {
        int ok = 1;
        if (chunk_rows > 0 && dims[0] > 0) {
            hsize_t chunk[2] = {chunk_rows < dims[0] ? chunk_rows : dims[0], hd[1]};
            ok = H5Pset_chunk(dcpl, rank, chunk) >= 0;
        }
        /* no fill: every row is written by the run (a partial file is never committed) */
        if (ok) ok = H5Pset_fill_time(dcpl, H5D_FILL_TIME_NEVER) >= 0;
        if (ok) dset = H5Dcreate2(f->file, name, ftype, space, lcpl, dcpl, H5P_DEFAULT);
    }
    if (space >= 0) H5Sclose(space);
    if (ftype >= 0) H5Tclose(ftype);
    if (lcpl >= 0) H5Pclose(lcpl);
    if (dcpl >= 0) H5Pclose(dcpl);
    if (dset < 0) H5_FAIL(f, "cannot create dataset", "%s", name);
    H5Dclose(dset);
    MS_TRY(ms_h5_attr_set_str(f, name, "units", units ? units : ""));
    MS_TRY(ms_h5_attr_set_str(f, name, "description", description ? description : ""));
    return MS_OK;
}

ms_status ms_h5_dims(ms_h5 *f, const char *name, int *rank, size_t dims[2])
{
    hid_t dset = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        MS_ERROR(MS_ENOTFOUND, "%s: no dataset %s", f->path, name);
    }
    hid_t space = H5Dget_space(dset);
    hsize_t hd[2] = {0, 0};
    int r = space >= 0 ? H5Sget_simple_extent_dims(space, hd, NULL) : -1;
    if (space >= 0) H5Sclose(space);
    H5Dclose(dset);
    if (r < 1 || r > 2) H5_FAIL(f, "unexpected rank of dataset", "%s", name);
    *rank = r;
    dims[0] = hd[0];
    dims[1] = r == 2 ? hd[1] : 1;
    return MS_OK;
}

/* Shared body of row reads and writes. */
static ms_status rows_io(ms_h5 *f, const char *name, int write, ms_h5_type type,
                         size_t str_len, size_t row0, size_t nrows, void *data)
{
    hid_t dset = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (dset < 0) H5_FAIL(f, "no dataset", "%s", name);
    ms_status st = MS_OK;
    hid_t fspace = H5Dget_space(dset), mspace = -1, mtype = -1, dxpl = H5P_DEFAULT;
    hsize_t hd[2] = {0, 1};
    int rank = fspace >= 0 ? H5Sget_simple_extent_dims(fspace, hd, NULL) : -1;
    if (rank < 1) {
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: cannot read the shape of %s",
                          f->path, name);
        goto done;
    }
    if (rank == 1) hd[1] = 1;
    if (row0 + nrows > hd[0]) {
        st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s: rows %zu..%zu beyond the %llu "
                          "rows of %s", f->path, row0, row0 + nrows,
                          (unsigned long long)hd[0], name);
        goto done;
    }
    if (type == 0) { /* write: the dataset's own type decides the memory type */
        hid_t t = H5Dget_type(dset);
        mtype = H5Tget_native_type(t, H5T_DIR_ASCEND);
        if (H5Tget_class(t) == H5T_STRING) {
            H5Tclose(mtype);
            mtype = H5Tcopy(t);
        }
        H5Tclose(t);
    } else {
        mtype = mem_type(type, str_len);
    }
    hsize_t start[2] = {row0, 0}, count[2] = {nrows, hd[1]};
    mspace = H5Screate_simple(rank, count[0] ? count : (hsize_t[2]){1, hd[1]}, NULL);
    if (mtype < 0 || mspace < 0) {
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: %s: type or space", f->path, name);
        goto done;
    }
    herr_t rc;
    if (nrows == 0) {
        rc = H5Sselect_none(fspace);
        if (rc >= 0) rc = H5Sselect_none(mspace);
    } else {
        rc = H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL);
    }
    if (rc < 0) {
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: %s: selection failed", f->path,
                          name);
        goto done;
    }
    if (f->parallel && write) {
        dxpl = H5Pcreate(H5P_DATASET_XFER);
        if (dxpl < 0 || H5Pset_dxpl_mpio(dxpl, H5FD_MPIO_COLLECTIVE) < 0) {
            st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: transfer property", f->path);
            goto done;
        }
    }
    rc = write ? H5Dwrite(dset, mtype, mspace, fspace, dxpl, data)
               : H5Dread(dset, mtype, mspace, fspace, dxpl, data);
    if (rc < 0) {
        char reason[256];
        hdf5_reason(reason);
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: %s rows %zu..%zu of %s failed%s%s",
                          f->path, write ? "writing" : "reading", row0, row0 + nrows, name,
                          reason[0] ? ": " : "", reason);
    }
done:
    if (dxpl != H5P_DEFAULT) H5Pclose(dxpl);
    if (mspace >= 0) H5Sclose(mspace);
    if (mtype >= 0) H5Tclose(mtype);
    if (fspace >= 0) H5Sclose(fspace);
    H5Dclose(dset);
    return st;
}

ms_status ms_h5_write_rows(ms_h5 *f, const char *name, size_t row0, size_t nrows,
                           const void *data)
{
    return rows_io(f, name, 1, 0, 0, row0, nrows, (void *)data);
}

ms_status ms_h5_read_rows(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                          size_t row0, size_t nrows, void *data)
{
    return rows_io(f, name, 0, type, str_len, row0, nrows, data);
}

ms_status ms_h5_write_array(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                            int rank, const size_t *dims, const void *data, const char *units,
                            const char *description)
{
    MS_TRY(ms_h5_create_dataset(f, name, type, str_len, rank, dims, 0, units, description));
    int writer = !f->parallel || ms_par_rank() == 0;
    return ms_h5_write_rows(f, name, 0, writer ? dims[0] : 0, data);
}

/* ---------------------------------------------------------------- independent writes */

struct ms_h5_dset {
    ms_h5 *f;
    hid_t dset, mtype;
    hsize_t cols;
    char name[256];
};

ms_status ms_h5_dset_open(ms_h5 *f, const char *name, ms_h5_dset **out)
{
    ms_h5_dset *d = ms_calloc("h5.dset", 1, sizeof *d);
    if (!d) return MS_ENOMEM;
    d->f = f;
    snprintf(d->name, sizeof d->name, "%s", name);
    d->dset = H5Dopen2(f->file, name, H5P_DEFAULT);
    hid_t space = d->dset >= 0 ? H5Dget_space(d->dset) : -1;
    hsize_t hd[2] = {0, 1};
    int rank = space >= 0 ? H5Sget_simple_extent_dims(space, hd, NULL) : -1;
    if (space >= 0) H5Sclose(space);
    d->cols = rank == 2 ? hd[1] : 1;
    hid_t t = d->dset >= 0 ? H5Dget_type(d->dset) : -1;
    if (t >= 0) {
        d->mtype = H5Tget_class(t) == H5T_STRING ? H5Tcopy(t) : H5Tget_native_type(t, H5T_DIR_ASCEND);
        H5Tclose(t);
    } else {
        d->mtype = -1;
    }
    if (d->dset < 0 || rank < 1 || d->mtype < 0) {
        if (d->dset >= 0) H5Dclose(d->dset);
        if (d->mtype >= 0) H5Tclose(d->mtype);
        ms_free(d);
        H5_FAIL(f, "cannot open dataset", "%s", name);
    }
    *out = d;
    return MS_OK;
}

ms_status ms_h5_dset_write_rows(ms_h5_dset *d, size_t row0, size_t nrows, const void *data)
{
    if (nrows == 0) return MS_OK;
    hid_t fspace = H5Dget_space(d->dset);
    hsize_t start[2] = {row0, 0}, count[2] = {nrows, d->cols};
    int rank = d->cols > 1 ? 2 : H5Sget_simple_extent_ndims(fspace);
    hid_t mspace = H5Screate_simple(rank, count, NULL);
    herr_t rc = fspace >= 0 && mspace >= 0
                    ? H5Sselect_hyperslab(fspace, H5S_SELECT_SET, start, NULL, count, NULL)
                    : -1;
    /* default transfer property: independent I/O */
    if (rc >= 0) rc = H5Dwrite(d->dset, d->mtype, mspace, fspace, H5P_DEFAULT, data);
    if (mspace >= 0) H5Sclose(mspace);
    if (fspace >= 0) H5Sclose(fspace);
    if (rc < 0) H5_FAIL(d->f, "writing rows", "%zu..%zu of %s", row0, row0 + nrows, d->name);
    return MS_OK;
}

void ms_h5_dset_close(ms_h5_dset *d)
{
    if (!d) return;
    H5Dclose(d->dset);
    H5Tclose(d->mtype);
    ms_free(d);
}

/* ---------------------------------------------------------------- attributes */

static ms_status attr_write(ms_h5 *f, const char *obj, const char *name, hid_t ftype,
                            hid_t mtype, hid_t space, const void *value)
{
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) > 0)
        H5Adelete_by_name(f->file, obj, name, H5P_DEFAULT);
    hid_t a = H5Acreate_by_name(f->file, obj, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT,
                                H5P_DEFAULT);
    herr_t rc = a >= 0 ? H5Awrite(a, mtype, value) : -1;
    if (a >= 0) H5Aclose(a);
    if (rc < 0) H5_FAIL(f, "cannot write attribute", "%s of %s", name, obj);
    return MS_OK;
}

ms_status ms_h5_attr_set_str(ms_h5 *f, const char *obj, const char *name, const char *value)
{
    size_t len = strlen(value);
    hid_t t = H5Tcopy(H5T_C_S1);
    hid_t space = H5Screate(H5S_SCALAR);
    ms_status st;
    if (t < 0 || space < 0 || H5Tset_size(t, len + 1) < 0 ||
        H5Tset_strpad(t, H5T_STR_NULLTERM) < 0)
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: string attribute %s", f->path,
                          name);
    else
        st = attr_write(f, obj, name, t, t, space, value);
    if (t >= 0) H5Tclose(t);
    if (space >= 0) H5Sclose(space);
    return st;
}

static ms_status attr_set_num(ms_h5 *f, const char *obj, const char *name, hid_t ftype,
                              hid_t mtype, const void *v, size_t n)
{
    hsize_t d = n;
    hid_t space = H5Screate_simple(1, &d, NULL);
    if (space < 0) H5_FAIL(f, "attribute space", "%s", name);
    ms_status st = attr_write(f, obj, name, ftype, mtype, space, v);
    H5Sclose(space);
    return st;
}

ms_status ms_h5_attr_set_f64(ms_h5 *f, const char *obj, const char *name, const double *v,
                             size_t n)
{
    return attr_set_num(f, obj, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, v, n);
}

ms_status ms_h5_attr_set_i64(ms_h5 *f, const char *obj, const char *name, const int64_t *v,
                             size_t n)
{
    return attr_set_num(f, obj, name, H5T_STD_I64LE, H5T_NATIVE_INT64, v, n);
}

static hid_t attr_open(ms_h5 *f, const char *obj, const char *name)
{
    if (H5Aexists_by_name(f->file, obj, name, H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return -1;
    }
    return H5Aopen_by_name(f->file, obj, name, H5P_DEFAULT, H5P_DEFAULT);
}

ms_status ms_h5_attr_get_str(ms_h5 *f, const char *obj, const char *name, char **value)
{
    hid_t a = attr_open(f, obj, name);
    if (a < 0) MS_ERROR(MS_ENOTFOUND, "%s: no attribute %s on %s", f->path, name, obj);
    hid_t t = H5Aget_type(a);
    ms_status st = MS_OK;
    if (t < 0 || H5Tget_class(t) != H5T_STRING || H5Tis_variable_str(t) > 0) {
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: attribute %s of %s is not a "
                          "fixed-length string", f->path, name, obj);
    } else {
        size_t len = H5Tget_size(t);
        char *buf = ms_malloc("h5.attr", len + 1);
        if (!buf)
            st = MS_ENOMEM;
        else if (H5Aread(a, t, buf) < 0) {
            ms_free(buf);
            st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: reading attribute %s",
                              f->path, name);
        } else {
            buf[len] = '\0';
            *value = buf;
        }
    }
    if (t >= 0) H5Tclose(t);
    H5Aclose(a);
    return st;
}

static ms_status attr_get_num(ms_h5 *f, const char *obj, const char *name, hid_t mtype,
                              size_t elem, void *v, size_t cap, size_t *n)
{
    hid_t a = attr_open(f, obj, name);
    if (a < 0) MS_ERROR(MS_ENOTFOUND, "%s: no attribute %s on %s", f->path, name, obj);
    hid_t space = H5Aget_space(a);
    hssize_t count = space >= 0 ? H5Sget_simple_extent_npoints(space) : -1;
    ms_status st = MS_OK;
    if (count < 0) {
        st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: attribute %s", f->path, name);
    } else if ((size_t)count > cap) {
        st = ms_error_set(MS_EFORMAT, __FILE__, __LINE__, "%s: attribute %s has %lld values, "
                          "expected at most %zu", f->path, name, (long long)count, cap);
    } else {
        void *tmp = ms_malloc("h5.attr", (size_t)count * elem + 1);
        if (!tmp)
            st = MS_ENOMEM;
        else if (H5Aread(a, mtype, tmp) < 0)
            st = ms_error_set(MS_EHDF5, __FILE__, __LINE__, "%s: reading attribute %s",
                              f->path, name);
        else {
            memcpy(v, tmp, (size_t)count * elem);
            *n = (size_t)count;
        }
        ms_free(tmp);
    }
    if (space >= 0) H5Sclose(space);
    H5Aclose(a);
    return st;
}

ms_status ms_h5_attr_get_f64(ms_h5 *f, const char *obj, const char *name, double *v,
                             size_t cap, size_t *n)
{
    return attr_get_num(f, obj, name, H5T_NATIVE_DOUBLE, sizeof *v, v, cap, n);
}

ms_status ms_h5_attr_get_i64(ms_h5 *f, const char *obj, const char *name, int64_t *v,
                             size_t cap, size_t *n)
{
    return attr_get_num(f, obj, name, H5T_NATIVE_INT64, sizeof *v, v, cap, n);
}

ms_status ms_h5_write_provenance(ms_h5 *f, const ms_config *cfg, const char *command)
{
    char build[2048], when[64];
    ms_build_description(build, sizeof build);
    time_t now = time(NULL);
    /* every rank must pass identical values to collective attribute writes */
    int64_t t = (int64_t)now;
    if (f->parallel) MS_TRY(ms_par_bcast(&t, sizeof t));
    now = (time_t)t;
    struct tm tmv;
    gmtime_r(&now, &tmv);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tmv);
    char *text = ms_config_to_string(cfg);
    if (!text) return MS_ENOMEM;
    ms_status st = ms_h5_attr_set_str(f, "/", "config", text);
    ms_free(text);
    MS_TRY(st);
    int64_t ranks = ms_par_size();
    MS_TRY(ms_h5_attr_set_str(f, "/", "mstars_version", ms_version()));
    MS_TRY(ms_h5_attr_set_str(f, "/", "git_revision", ms_git_revision()));
    MS_TRY(ms_h5_attr_set_str(f, "/", "build", build));
    MS_TRY(ms_h5_attr_set_str(f, "/", "command", command ? command : ""));
    MS_TRY(ms_h5_attr_set_str(f, "/", "created", when));
    MS_TRY(ms_h5_attr_set_i64(f, "/", "ranks", &ranks, 1));
    return MS_OK;
}

/* ---------------------------------------------------------------- listing */

typedef struct {
    ms_strlist *names;
    ms_status st;
} list_ctx;

static herr_t list_link_cb(hid_t group, const char *name, const H5L_info_t *info, void *data)
{
    (void)info;
    list_ctx *c = data;
    hid_t obj = H5Oopen(group, name, H5P_DEFAULT);
    if (obj < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0; /* dangling link: not a dataset */
    }
    int is_dset = H5Iget_type(obj) == H5I_DATASET;
    H5Oclose(obj);
    if (!is_dset) return 0;
    c->st = ms_strlist_push(c->names, name);
    return c->st == MS_OK ? 0 : -1;
}

ms_status ms_h5_list(ms_h5 *f, const char *group, ms_strlist *names)
{
    memset(names, 0, sizeof *names);
    if (!ms_h5_exists(f, group) && strcmp(group, "/") != 0)
        MS_ERROR(MS_ENOTFOUND, "%s: no group %s", f->path, group);
    hid_t g = H5Gopen2(f->file, group, H5P_DEFAULT);
    if (g < 0) H5_FAIL(f, "cannot open group", "%s", group);
    list_ctx c = {names, MS_OK};
    hsize_t idx = 0;
    herr_t r = H5Literate(g, H5_INDEX_NAME, H5_ITER_INC, &idx, list_link_cb, &c);
    H5Gclose(g);
    if (c.st != MS_OK) {
        ms_strlist_free(names);
        return c.st;
    }
    if (r < 0) {
        ms_strlist_free(names);
        H5_FAIL(f, "cannot list group", "%s", group);
    }
    /* a "column_order" attribute (comma-separated names) puts those names first, in its
     * order (catalogs record their declaration order; HDF5 lists by name) */
    char *order = NULL;
    if (names->n > 1 && ms_h5_attr_get_str(f, group, "column_order", &order) == MS_OK) {
        size_t placed = 0;
        for (char *tok = strtok(order, ","); tok && placed < names->n; tok = strtok(NULL, ","))
            for (size_t i = placed; i < names->n; i++)
                if (strcmp(names->items[i], tok) == 0) {
                    char *t = names->items[i];
                    memmove(&names->items[placed + 1], &names->items[placed],
                            (i - placed) * sizeof *names->items);
                    names->items[placed++] = t;
                    break;
                }
    }
    ms_free(order);
    ms_error_clear();
    return MS_OK;
}

ms_status ms_h5_read_strings(ms_h5 *f, const char *name, size_t n, char ***out)
{
    *out = NULL;
    ms_h5_type type;
    size_t len = 0;
    MS_TRY(ms_h5_dset_type(f, name, &type, &len));
    if (type != MS_H5_STR)
        MS_ERROR(MS_EFORMAT, "%s: %s is not a string column", ms_h5_path(f), name);
    char *raw = ms_malloc_array("h5.strings.raw", n ? n : 1, len ? len : 1);
    char **ptr = ms_malloc_array("h5.strings", n ? n : 1, sizeof(char *) + len + 1);
    ms_status st = (!raw || !ptr) ? MS_ENOMEM : MS_OK;
    if (st == MS_OK && n) st = ms_h5_read_rows(f, name, MS_H5_STR, len, 0, n, raw);
    if (st == MS_OK) {
        char *text = (char *)(ptr + n);
        for (size_t i = 0; i < n; i++) {
            ptr[i] = text + i * (len + 1);
            memcpy(ptr[i], raw + i * len, len);
            ptr[i][len] = '\0';
        }
        *out = ptr;
    } else {
        ms_free(ptr);
    }
    ms_free(raw);
    return st;
}

ms_status ms_h5_dset_type(ms_h5 *f, const char *name, ms_h5_type *type, size_t *str_len)
{
    hid_t dset = H5Dopen2(f->file, name, H5P_DEFAULT);
    if (dset < 0) {
        H5Eclear2(H5E_DEFAULT);
        MS_ERROR(MS_ENOTFOUND, "%s: no dataset %s", f->path, name);
    }
    hid_t t = H5Dget_type(dset);
    H5Dclose(dset);
    if (t < 0) H5_FAIL(f, "cannot get the type of dataset", "%s", name);
    H5T_class_t cls = H5Tget_class(t);
    size_t size = H5Tget_size(t);
    H5T_sign_t sign = cls == H5T_INTEGER ? H5Tget_sign(t) : H5T_SGN_NONE;
    int var = cls == H5T_STRING ? H5Tis_variable_str(t) > 0 : 0;
    H5Tclose(t);
    *str_len = 0;
    if (cls == H5T_FLOAT && (size == 4 || size == 8)) {
        *type = size == 4 ? MS_H5_F32 : MS_H5_F64;
    } else if (cls == H5T_INTEGER && sign == H5T_SGN_2 && size <= 8) {
        *type = size <= 4 ? MS_H5_I32 : MS_H5_I64;
    } else if (cls == H5T_INTEGER && sign == H5T_SGN_NONE && size <= 8) {
        *type = size == 1 ? MS_H5_U8 : size <= 4 ? MS_H5_U32 : MS_H5_I64;
    } else if (cls == H5T_STRING && !var && size > 0) {
        *type = MS_H5_STR;
        *str_len = size;
    } else {
        MS_ERROR(MS_EFORMAT, "%s: dataset %s has an unsupported type (class %d, %zu bytes%s)",
                 f->path, name, (int)cls, size, var ? ", variable-length string" : "");
    }
    return MS_OK;
}

static herr_t list_attr_cb(hid_t obj, const char *name, const H5A_info_t *info, void *data)
{
    (void)obj;
    (void)info;
    list_ctx *c = data;
    c->st = ms_strlist_push(c->names, name);
    return c->st == MS_OK ? 0 : -1;
}

ms_status ms_h5_attr_list(ms_h5 *f, const char *obj, ms_strlist *names)
{
    memset(names, 0, sizeof *names);
    hid_t o = H5Oopen(f->file, obj, H5P_DEFAULT);
    if (o < 0) {
        H5Eclear2(H5E_DEFAULT);
        MS_ERROR(MS_ENOTFOUND, "%s: no object %s", f->path, obj);
    }
    list_ctx c = {names, MS_OK};
    hsize_t idx = 0;
    herr_t r = H5Aiterate2(o, H5_INDEX_NAME, H5_ITER_INC, &idx, list_attr_cb, &c);
    H5Oclose(o);
    if (c.st != MS_OK) {
        ms_strlist_free(names);
        return c.st;
    }
    if (r < 0) {
        ms_strlist_free(names);
        H5_FAIL(f, "cannot list the attributes of", "%s", obj);
    }
    return MS_OK;
}

int ms_h5_attr_class(ms_h5 *f, const char *obj, const char *name)
{
    hid_t a = attr_open(f, obj, name);
    if (a < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    hid_t t = H5Aget_type(a);
    int k = 0;
    if (t >= 0) {
        H5T_class_t cls = H5Tget_class(t);
        if (cls == H5T_STRING && H5Tis_variable_str(t) <= 0) k = 's';
        else if (cls == H5T_INTEGER) k = 'i';
        else if (cls == H5T_FLOAT) k = 'f';
        H5Tclose(t);
    }
    H5Aclose(a);
    return k;
}

ms_status ms_h5_read_exact(ms_h5 *f, const char *name, ms_h5_type type, size_t str_len,
                           size_t n0, size_t n1, void *data)
{
    int rank;
    size_t dims[2] = {0, 0};
    MS_TRY(ms_h5_dims(f, name, &rank, dims));
    if (rank != (n1 ? 2 : 1) || dims[0] != n0 || (n1 && dims[1] != n1))
        MS_ERROR(MS_EFORMAT, "%s: dataset %s has shape %zu x %zu, expected %zu x %zu",
                 ms_h5_path(f), name, dims[0], rank == 2 ? dims[1] : (size_t)1, n0,
                 n1 ? n1 : (size_t)1);
    return n0 ? ms_h5_read_rows(f, name, type, str_len, 0, n0, data) : MS_OK;
}
