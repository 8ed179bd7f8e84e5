/* report.c: `mstars report` (see report.h): read the catalog, compute the numbers, draw the
 * figures, write summary.json and summary.md. */
#include "report_internal.h"

#include "mstars/log.h"
#include "mstars/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* mkdir -p */
static ms_status make_dir(const char *path)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        MS_ERROR(MS_EINVAL, "output folder name too long: %s", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char c = *p;
        *p = '\0';
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            MS_ERROR(MS_EIO, "cannot create folder %s: %s", buf, strerror(errno));
        *p = c;
        if (c == '\0') break;
    }
    struct stat sb;
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        MS_ERROR(MS_EIO, "%s is not a folder", path);
    return MS_OK;
}

/* After a failure: remove what this run wrote (its figures, the summaries), and the folder
 * when this run created it and it is empty, so that a failed report leaves nothing that
 * looks like one. */
static void remove_written(const ms_report_opts *o, const rp_results *r, int created)
{
    char path[4200];
    for (size_t i = 0; i < r->n_figures; i++) {
        snprintf(path, sizeof path, "%s/%s", o->out_dir, r->figures[i].file);
        remove(path);
    }
    static const char *const summaries[] = {"summary.json", "summary.md"};
    for (int i = 0; i < 2 && r->summaries_started; i++) {
        snprintf(path, sizeof path, "%s/%s", o->out_dir, summaries[i]);
        remove(path);
    }
    if (r->summaries_started) { /* methods.md, methods_<q>.png, overview.md/json */
        DIR *d = opendir(o->out_dir);
        struct dirent *ent;
        while (d && (ent = readdir(d)) != NULL)
            if (strncmp(ent->d_name, "methods", 7) == 0 ||
                strncmp(ent->d_name, "overview", 8) == 0 ||
                strcmp(ent->d_name, "summary.md.tmp") == 0) {
                snprintf(path, sizeof path, "%s/%s", o->out_dir, ent->d_name);
                remove(path);
            }
        if (d) closedir(d);
    }
    if (created) rmdir(o->out_dir);
}

static ms_status run(const ms_report_opts *o, rp_catalog *c, rp_results *r, int *created)
{
    /* first: nothing is written for a bad catalog */
    MS_TRY(rp_catalog_read(o->catalog, o->calibrated, c));
    if (c->grid_quality_fail) ms_log_warn("report: %s: %s", o->catalog, c->grid_quality);
    if (c->sanity_fail) ms_log_warn("report: %s: %s", o->catalog, c->sanity);
    struct stat sb;
    *created = stat(o->out_dir, &sb) != 0;
    MS_TRY(make_dir(o->out_dir));
    ms_log_info("report: %s: %zu rows", o->catalog, c->n);
    MS_TRY(rp_counts(c, r));
    const double radius = o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT;
    if (o->truth) MS_TRY(rp_compare(c, o->truth, "truth", 0, radius, r));
    if (o->reference)
        MS_TRY(rp_compare(c, o->reference, "reference", o->truth ? 1 : 0, radius, r));
    if (!o->truth && !o->reference)
        rp_note(r, "recovery (Fig. 14/15): no --truth or --reference table given");
    else if (r->cmp[0].have && r->cmp[0].matched == 0)
        rp_note(r, "recovery: no catalog row matches a row of %s by obsid, key or position",
                r->cmp[0].path);
    MS_TRY(rp_residuals(c, r));
    MS_TRY(rp_emulator(c, o->emulator, r));
    MS_TRY(rp_spt(c, r));
    MS_TRY(rp_figures(c, o->out_dir, r));
    char path[4200];
    snprintf(path, sizeof path, "%s/summary.json", o->out_dir);
    r->summaries_started = 1;
    MS_TRY(rp_write_json(c, o, r, path));
    snprintf(path, sizeof path, "%s/summary.md", o->out_dir);
    MS_TRY(rp_write_markdown(c, o, r, path));
    int n_methods_files = 0;
    MS_TRY(rp_methods(o->catalog, o->truth ? o->truth : o->reference,
                      o->radius > 0 ? o->radius : MS_JOIN_RADIUS_DEFAULT, o->out_dir,
                      &n_methods_files));
    if (n_methods_files) ms_log_info("report: methods compared in %s/methods.md", o->out_dir);
    MS_TRY(rp_overview(o, c, r));
    return MS_OK;
}

ms_status ms_report_write(const ms_report_opts *o, ms_report_summary *s)
{
    memset(s, 0, sizeof *s);
    if (!o->catalog || !o->out_dir) MS_ERROR(MS_EINVAL, "report: a catalog and --out are needed");
    rp_catalog c;
    memset(&c, 0, sizeof c);
    rp_results *r = ms_calloc("report.results", 1, sizeof *r);
    if (!r) return MS_ENOMEM;
    int created = 0;
    ms_status st = run(o, &c, r, &created);
    if (st != MS_OK) remove_written(o, r, created);
    if (st == MS_OK) {
        s->input = r->input;
        s->fitted = r->fitted;
        s->flagged = r->flagged;
        s->figures = r->n_figures;
        s->notes = r->n_notes;
    }
    rp_results_free(r);
    ms_free(r);
    rp_catalog_free(&c);
    return st;
}
