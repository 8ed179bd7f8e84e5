/* h5_model.c: what every model and checkpoint file of mstars repeated (h5.h): a string
 * attribute into a fixed buffer, the "kind" test and the "format_version" check when reading,
 * and the commit-or-abort that ends writing. Used by slam/model_h5.c, nn/emulator_h5.c,
 * nn/csn_h5.c, cnn/cnn_h5.c, laspm/library.c and the checkpoints of nn/payne_train.c and
 * cnn/train.c. */
#include "mstars/h5.h"
#include "mstars/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

ms_status ms_h5_attr_get_text(ms_h5 *f, const char *obj, const char *name, char *buf, size_t len)
{
    char *s = NULL;
    MS_TRY(ms_h5_attr_get_str(f, obj, name, &s));
    snprintf(buf, len, "%s", s);
    ms_free(s);
    return MS_OK;
}

int ms_h5_is_kind(ms_h5 *f, const char *kind)
{
    char *s = NULL;
    const int ok = ms_h5_attr_get_str(f, "/", "kind", &s) == MS_OK && strcmp(s, kind) == 0;
    ms_free(s);
    return ok;
}

ms_status ms_h5_check_version(ms_h5 *f, const char *what, int version)
{
    int64_t v = 0;
    size_t n;
    MS_TRY(ms_h5_attr_get_i64(f, "/", "format_version", &v, 1, &n));
    if (v != version)
        MS_ERROR(MS_EFORMAT, "%s: %s%sformat version %" PRId64 ", this mstars reads %d",
                 ms_h5_path(f), what ? what : "", what ? " " : "", v, version);
    return MS_OK;
}

ms_status ms_h5_commit_or_abort(ms_h5 *f, ms_status st)
{
    if (st != MS_OK) {
        ms_h5_abort(f);
        return st;
    }
    return ms_h5_commit(f);
}
