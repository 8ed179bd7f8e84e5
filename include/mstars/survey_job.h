/* survey_job.h: the ONE survey skeleton (issue 24): every command that turns the rows of a
 * spectra store into a resumable catalog (fit, rv, fit-slam, laspm, predict-cnn, and
 * `fit --methods`, several of them in one pass) is a list of methods run by ms_survey_job.
 *
 * The skeleton does what every survey command did by itself before: open the store, lay the
 * methods' catalog columns side by side (ms_schema_compose: one composite row, one journal,
 * one --resume), list the chunks no journal holds, hand them out on the work queue
 * (workq.h), run every method on each chunk IN ORDER, write the chunk's composite rows,
 * sum the methods' counts over ranks, run their collective post-passes (cuts,
 * parameter_flag), write their attributes and commit the catalog.
 *
 * A method is a small descriptor (ms_survey_method): its name, its column groups over its
 * own row struct, the identification columns it brings when it runs alone, a settings hash
 * (models and settings: the journal refuses a --resume with other ones), and hooks:
 *   run        one chunk: fill rows[0..n) (the method's own row structs) from the chunk
 *              context. It reads store datasets through ms_survey_rows (each dataset of a
 *              chunk is read from the store ONCE, whatever the number of methods asking),
 *              and the results of the methods before it through the context (ck->v_start:
 *              the chosen velocity of the rv method);
 *   skip       a row the method does not apply to (its predicate said no): its columns
 *              null and its "not applicable" reason bit;
 *   post       collective, after the last chunk of a complete run (catalog-wide passes);
 *   attributes collective, the method's attributes of the catalog;
 *   free       releases what the method's `open` function loaded.
 * Methods never call MPI themselves except in post/attributes through the helpers of par
 * (they live in src/stage).
 *
 * Results are per row and depend only on the row (and the rows of the same spectrum that
 * earlier methods produced): the catalog is the same for any rank count and chunk size. */
#ifndef MSTARS_SURVEY_JOB_H
#define MSTARS_SURVEY_JOB_H

#include "mstars/catalog.h"
#include "mstars/config.h"
#include "mstars/h5.h"
#include "mstars/schema.h"
#include "mstars/status.h"

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------- the chunk context */
#define MS_SURVEY_MAX_CACHE 64

typedef struct {
    const char *name;     /* dataset (schema.h) */
    ms_h5_type type;
    size_t str_len, width, elem; /* width: values per row; elem: bytes per value */
    size_t chunk_stamp;   /* the chunk it holds (SIZE_MAX: none) */
    void *buf;            /* [chunk rows][width] */
} ms_survey_cached;

/* The classes a classification method of the same job gives a row (ck->cls; the methods
 * "class" and "lum", src/stage/classify.c and lumclass.c, which run first): an M dwarf, an M
 * giant, not an M star (CNN-SPT), a white dwarf (CNN-WDM), or unknown (no view: the
 * classifiers could not look at the spectrum). */
enum { MS_SURVEY_CLASS_UNKNOWN = 0, MS_SURVEY_CLASS_DWARF = 1, MS_SURVEY_CLASS_GIANT = 2,
       MS_SURVEY_CLASS_OTHER = 3, MS_SURVEY_CLASS_WD = 4 };
/* "unclassified", "dwarf", "giant", "non-M", "white dwarf" (the reason column of fit --methods). */
const char *ms_survey_class_name(int32_t cls);

typedef struct {
    ms_h5 *store;
    size_t row0, n, chunk_rows, chunk_id;
    /* store datasets read once per chunk (see ms_survey_rows); cache 0: every read goes to
     * the store (tools that read single rows) */
    int cache;
    ms_survey_cached c[MS_SURVEY_MAX_CACHE];
    size_t n_cached;
    /* results of earlier methods of the same chunk */
    double *v_start;      /* [chunk] km/s: the rv method's chosen velocity where rv_flag says
                             good, else the pipeline's Z c, else NaN; NULL: no rv method ran
                             (each method uses the store's pipeline velocity as before) */
    uint8_t *v_start_rv;  /* [chunk] with v_start: 1 where v_start is the rv method's adopted RV
                             (rv_flag = 1), 0 where it is Z c or NaN */
    int32_t *cls;         /* [chunk] MS_SURVEY_CLASS_*, UNKNOWN at the start of a chunk; NULL: no
                             classification method ("class", "lum") in the job */
    double *dmgm;         /* [chunk] with cls: the class method's CNN-dMgM probability of an M
                             giant (NaN: none), for the lum method's combination; NULL: no class
                             method in the job */
    uint8_t *applies;     /* [n_methods][chunk]: method g ran on row i (its predicate) */
} ms_survey_chunk;

/* Store rows [row0, row0 + n) of dataset `name` (rows x width values of `type`; strings
 * str_len bytes) into out. The first request of a chunk reads the store; later requests of
 * the same chunk (other methods) copy. */
ms_status ms_survey_rows(ms_survey_chunk *ck, const char *name, ms_h5_type type, size_t str_len,
                         void *out);
/* A context for reading store rows without a job (train-cnn): no cache. */
void ms_survey_chunk_plain(ms_survey_chunk *ck, ms_h5 *store, size_t row0, size_t n);

/* ------------------------------------------------------------- methods */
typedef struct ms_survey_method ms_survey_method;

/* Which rows a method applies to (issue 24 item 1): the row predicate. */
typedef enum {
    MS_APPLY_ALL = 0,    /* every row (the default) */
    MS_APPLY_DWARFS = 1, /* rows a classifier of the same job calls dwarfs; every row when the
                            job has no classifier */
    MS_APPLY_GIANTS = 2, /* rows a classifier of the same job calls M giants; likewise */
} ms_survey_apply;

/* 1 when method `m` runs on row i of the chunk. */
int ms_survey_applies(ms_survey_apply a, const ms_survey_chunk *ck, size_t i);

/* The predicate of `method` from the configuration: run.dwarfs_only lists the methods that
 * run on dwarfs only, run.giants_only those that run on M giants only (when a classification
 * method is in the job; a method in both lists is refused by ms_survey_apply_check). */
ms_survey_apply ms_survey_apply_of(const ms_config *cfg, const char *method);
/* MS_EINVAL naming the lists when `method` is in both. */
ms_status ms_survey_apply_check(const ms_config *cfg, const char *method);

#define MS_SURVEY_MAX_COUNTS 16
#define MS_SURVEY_MAX_GROUPS 3

struct ms_survey_method {
    const char *name;                   /* "rv", "z25", "slam", "cnn", "cnn_gm", "laspm", ... */
    const ms_catalog_column *id_cols;   /* identification columns of the method's own
                                           catalog (NULL: the groups carry them) */
    const ms_column_group *groups[MS_SURVEY_MAX_GROUPS]; /* over the same row struct; NULL-
                                                            terminated */
    size_t row_size;
    size_t n_rows;                      /* rows of the store the method works on */
    uint64_t hash;                      /* settings and model hash (journal) */
    ms_survey_apply apply;
    void *state;                        /* the method's own */
    void *rows;                         /* [chunk] its row structs, filled by run/skip */
    long counts[MS_SURVEY_MAX_COUNTS];  /* this rank's counts, summed over ranks after the
                                           work queue */
    int n_counts;
    size_t skipped_na;                  /* rows not applicable (this rank) */
    int renamed;                        /* set by the job: the method's columns carry the
                                           names of ms_survey_column_name (several groups) */
    ms_status (*run)(ms_survey_method *m, ms_survey_chunk *ck, const uint8_t *applies,
                     long *n_failed);
    void (*skip)(ms_survey_method *m, void *row);
    ms_status (*post)(ms_survey_method *m, ms_h5 *cat, size_t n_rows);
    ms_status (*attributes)(ms_survey_method *m, ms_h5 *cat, const ms_config *cfg,
                            const char *command);
    void (*free)(ms_survey_method *m);
    /* optional: files of the method's own beside the catalog (fit --models) */
    ms_status (*flush)(ms_survey_method *m);              /* complete run: before the commit */
    void (*abort_files)(ms_survey_method *m);             /* a write failed: delete them */
    ms_status (*commit)(ms_survey_method *m, int complete); /* collective, before the catalog */
};

/* Extra columns of the job (`fit --methods`: the recommended labels and which methods did
 * not apply), over their own row struct: `row` fills row i of a chunk after the last method,
 * `post` (collective) runs after the methods' post-passes of a complete run (the recommended
 * labels need the catalog-wide flags: cut_flags, parameter_flag). */
typedef struct {
    const ms_catalog_column *cols; /* {NULL}-terminated */
    size_t row_size;
    void *state;
    ms_status (*row)(void *state, const ms_survey_chunk *ck, size_t n_methods, size_t i,
                     void *out);
    ms_status (*post)(void *state, ms_h5 *cat, size_t n_rows);
    ms_status (*attributes)(void *state, ms_h5 *cat);
} ms_survey_extra;

typedef struct {
    const char *spectra, *out, *command, *what; /* what: the command name for log lines */
    int resume;
    ms_h5 *store;                       /* opened by the caller (the methods checked it) */
    size_t n_rows, chunk;
    ms_survey_method *const *methods;
    size_t n_methods;
    const ms_survey_extra *extra;       /* NULL: none */
    int abort_on_write_error;           /* a failed write deletes the .partial and stops
                                           (ms_catalog_abort_after_write_error), as fit did */
} ms_survey_job_opts;

typedef struct {
    long chunks_total, chunks_before;
    int complete;
    double seconds, master_busy;
    size_t requests;
} ms_survey_job_summary;

/* Collective. The methods' counts are summed over ranks into m->counts when it returns. */
ms_status ms_survey_job(const ms_config *cfg, const ms_survey_job_opts *o,
                        ms_survey_job_summary *sum);

/* The job of ONE method (the single commands: fit, rv, fit-slam, laspm, predict-cnn): method m,
 * opened on `store`, over its m->n_rows rows in chunks of run.chunk_size; `what` names the
 * command in log lines; abort_on_write_error as in ms_survey_job_opts. Collective. */
ms_status ms_survey_run_one(const ms_config *cfg, ms_survey_method *m, ms_h5 *store,
                            const char *spectra, const char *out, const char *command,
                            const char *what, int resume, int abort_on_write_error,
                            ms_survey_job_summary *sum);

/* Releases what a single command opened: the method (m->free) and the store (NULL: none). */
void ms_survey_one_close(ms_survey_method *m, ms_h5 *store);

/* The job's columns: with one method, its id_cols then its groups' columns at offset 0 (the
 * single commands' catalogs, unchanged); with several, each method's row at base[g]
 * (ms_schema_compose), the identification columns once (the first method's offset), and a
 * method's column whose name another group already has (z25's teff against the recommended
 * teff) renamed as `mstars combine` renames it (z25_teff, e_z25_teff). *cols: ms_free. */
ms_status ms_survey_columns(ms_survey_method *const *ms, size_t n, const ms_survey_extra *extra,
                            ms_catalog_column **cols, size_t *row_size, size_t *base);

/* The name column `name` (a full catalog dataset name) of `method` takes in a job with several groups
 * (the rename of `mstars combine`: z25's /catalog/teff -> /catalog/z25_teff). */
void ms_survey_column_name(const char *method, const char *name, char *buf, size_t len);

/* Settings hash of the job: every method's hash and name, in order. */
uint64_t ms_survey_hash(ms_survey_method *const *ms, size_t n, size_t n_rows);

#endif
