/* strlist.h: an immutable list of strings in one buffer (file lists, CSV cells), cheap to
 * broadcast between ranks. */
#ifndef MSTARS_STRLIST_H
#define MSTARS_STRLIST_H

#include "mstars/status.h"

#include <stddef.h>

typedef struct {
    size_t n;       /* strings */
    size_t bytes;   /* size of blob, NUL terminators included */
    char *blob;     /* the strings, each NUL-terminated, back to back */
    char **items;   /* [n] pointers into blob */
    size_t blob_cap, items_cap; /* allocated sizes while building with ms_strlist_push */
} ms_strlist;

/* Build from `blob` of `bytes` bytes (takes ownership of blob, an ms_malloc block). */
ms_status ms_strlist_from_blob(ms_strlist *l, char *blob, size_t bytes);
/* Append-style builder: add one string (copied). */
ms_status ms_strlist_push(ms_strlist *l, const char *s);
void ms_strlist_free(ms_strlist *l);
/* Sort items by strcmp (blob order unchanged). */
void ms_strlist_sort(ms_strlist *l);

/* The spectra to ingest: every *.fits / *.fits.gz / *.fit under a directory (recursive,
 * sorted by path), or the lines of a list file (blank lines and # comments skipped;
 * relative paths are taken relative to the list file's directory). */
ms_status ms_filelist_spectra(const char *path, ms_strlist *out);
/* Model files of a grid directory: names starting with "lte" and ending in .7 (.spec.7),
 * .spec.fits, .spec.fits.gz or .txt, sorted (not recursive). */
ms_status ms_filelist_grid(const char *dir, ms_strlist *out);

#endif
