/* filelist.c: string lists and the discovery of input files (see strlist.h). */
#include "mstars/strlist.h"
#include "mstars/mem.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

ms_status ms_strlist_from_blob(ms_strlist *l, char *blob, size_t bytes)
{
    size_t n = 0;
    for (size_t i = 0; i < bytes; i++) n += blob[i] == '\0';
    char **items = ms_malloc_array("strlist.items", n ? n : 1, sizeof *items);
    if (!items) {
        ms_free(blob);
        return MS_ENOMEM;
    }
    size_t k = 0;
    for (size_t i = 0; i < bytes; i += strlen(blob + i) + 1) items[k++] = blob + i;
    l->n = n;
    l->bytes = bytes;
    l->blob = blob;
    l->items = items;
    return MS_OK;
}

ms_status ms_strlist_push(ms_strlist *l, const char *s)
{
    size_t len = strlen(s) + 1;
    if (l->bytes + len > l->blob_cap) { /* grow geometrically: amortised O(1) per push */
        size_t cap = 2 * (l->bytes + len) + 4096;
        char *blob = ms_realloc("strlist.blob", l->blob, cap);
        if (!blob) return MS_ENOMEM;
        /* the strings moved: repoint the items by walking the new blob */
        for (size_t i = 0, at = 0; i < l->n; i++, at += strlen(blob + at) + 1)
            l->items[i] = blob + at;
        l->blob = blob;
        l->blob_cap = cap;
    }
    if (l->n + 1 > l->items_cap) {
        size_t cap = 2 * l->n + 256;
        char **items = ms_realloc("strlist.items", l->items, cap * sizeof *items);
        if (!items) return MS_ENOMEM;
        l->items = items;
        l->items_cap = cap;
    }
    memcpy(l->blob + l->bytes, s, len);
    l->items[l->n++] = l->blob + l->bytes;
    l->bytes += len;
    return MS_OK;
}

void ms_strlist_free(ms_strlist *l)
{
    ms_free(l->blob);
    ms_free(l->items);
    memset(l, 0, sizeof *l);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void ms_strlist_sort(ms_strlist *l)
{
    if (l->n > 1) qsort(l->items, l->n, sizeof *l->items, cmp_str);
}

/* Copy the sorted order into a fresh blob so that items are in blob order again
 * (needed before broadcasting the blob). */
static ms_status strlist_compact(ms_strlist *l)
{
    ms_strlist out = {0};
    char *blob = ms_malloc("strlist.blob", l->bytes ? l->bytes : 1);
    if (!blob) return MS_ENOMEM;
    size_t at = 0;
    for (size_t i = 0; i < l->n; i++) {
        size_t len = strlen(l->items[i]) + 1;
        memcpy(blob + at, l->items[i], len);
        at += len;
    }
    MS_TRY(ms_strlist_from_blob(&out, blob, at));
    ms_strlist_free(l);
    *l = out;
    return MS_OK;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

typedef int (*name_filter)(const char *name);

static int is_spectrum_name(const char *name)
{
    return ends_with(name, ".fits") || ends_with(name, ".fits.gz") || ends_with(name, ".fit") ||
           ends_with(name, ".fit.gz");
}

static int is_grid_name(const char *name)
{
    if (strncmp(name, "lte", 3) != 0) return 0;
    return ends_with(name, ".7") || ends_with(name, ".spec.fits") ||
           ends_with(name, ".spec.fits.gz") || ends_with(name, ".txt");
}

static ms_status scan_dir(const char *dir, name_filter keep, int recursive, ms_strlist *out)
{
    DIR *d = opendir(dir);
    if (!d) MS_ERROR(MS_EIO, "cannot open directory %s: %s", dir, strerror(errno));
    ms_status st = MS_OK;
    struct dirent *e;
    while (st == MS_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        int w = snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (w < 0 || (size_t)w >= sizeof path) {
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "path too long under %s", dir);
            break;
        }
        struct stat sb;
        if (stat(path, &sb) != 0) continue; /* vanished or dangling link: not an input */
        if (S_ISDIR(sb.st_mode)) {
            if (recursive) st = scan_dir(path, keep, recursive, out);
        } else if (keep(e->d_name)) {
            st = ms_strlist_push(out, path);
        }
    }
    closedir(d);
    return st;
}

static ms_status read_list_file(const char *path, ms_strlist *out)
{
    FILE *f = fopen(path, "r");
    if (!f) MS_ERROR(MS_EIO, "cannot open list file %s: %s", path, strerror(errno));
    char base[4096];
    snprintf(base, sizeof base, "%s", path);
    char *slash = strrchr(base, '/');
    if (slash)
        slash[1] = '\0';
    else
        base[0] = '\0';
    char line[4096];
    ms_status st = MS_OK;
    long lineno = 0;
    while (st == MS_OK && fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__, "%s:%ld: line too long", path,
                              lineno);
            break;
        }
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r' || line[len - 1] == ' '))
            line[--len] = '\0';
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (!*s || *s == '#') continue;
        if (*s == '/' || !base[0]) {
            st = ms_strlist_push(out, s);
        } else {
            char full[8192];
            snprintf(full, sizeof full, "%s%s", base, s);
            st = ms_strlist_push(out, full);
        }
    }
    if (st == MS_OK && ferror(f))
        st = ms_error_set(MS_EIO, __FILE__, __LINE__, "reading %s failed", path);
    fclose(f);
    return st;
}

ms_status ms_filelist_spectra(const char *path, ms_strlist *out)
{
    memset(out, 0, sizeof *out);
    struct stat sb;
    if (stat(path, &sb) != 0) MS_ERROR(MS_EIO, "%s: %s", path, strerror(errno));
    ms_status st;
    if (S_ISDIR(sb.st_mode)) {
        st = scan_dir(path, is_spectrum_name, 1, out);
        if (st == MS_OK) ms_strlist_sort(out);
    } else {
        st = read_list_file(path, out);
    }
    if (st == MS_OK) st = strlist_compact(out);
    if (st != MS_OK) ms_strlist_free(out);
    return st;
}

ms_status ms_filelist_grid(const char *dir, ms_strlist *out)
{
    memset(out, 0, sizeof *out);
    ms_status st = scan_dir(dir, is_grid_name, 0, out);
    if (st == MS_OK) ms_strlist_sort(out);
    if (st == MS_OK) st = strlist_compact(out);
    if (st != MS_OK) ms_strlist_free(out);
    return st;
}
