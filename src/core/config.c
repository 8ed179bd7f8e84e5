/* config.c: defaults, libconfig files, overrides, validation and output of the
 * configuration (see config.h). All knowledge of individual keys lives in the table. */
#include "mstars/config.h"
#include "mstars/mem.h"

#include <errno.h>
#include <libconfig.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const ms_cfg_key *ms_config_find(const char *key)
{
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++)
        if (strcmp(k->key, key) == 0) return k;
    return NULL;
}

static void *field_ptr(ms_config *cfg, const ms_cfg_key *k) { return (char *)cfg + k->offset; }
static const void *field_cptr(const ms_config *cfg, const ms_cfg_key *k)
{
    return (const char *)cfg + k->offset;
}

static ms_status check_range(const ms_cfg_key *k, double v, const char *where)
{
    if (!isfinite(v) || v < k->min || v > k->max)
        MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': value %g outside the allowed range [%g, %g]",
                 where, k->key, v, k->min, k->max);
    return MS_OK;
}

static ms_status parse_double(const ms_cfg_key *k, const char *s, double *out, const char *where)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t') end++;
    if (end == s || *end != '\0' || errno == ERANGE)
        MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': '%s' is not a number", where, k->key, s);
    MS_TRY(check_range(k, v, where));
    *out = v;
    return MS_OK;
}

/* Parse `value` (in --set syntax) into the key's field. */
static ms_status set_from_string(ms_config *cfg, const ms_cfg_key *k, const char *value,
                                 const char *where)
{
    void *p = field_ptr(cfg, k);
    switch (k->type) {
    case MS_CFG_INT: {
        char *end;
        errno = 0;
        long v = strtol(value, &end, 10);
        if (end == value || *end != '\0' || errno == ERANGE) {
            /* accept integral values written as floats, e.g. 1e5 */
            double d;
            if (parse_double(k, value, &d, where) != MS_OK || d != floor(d))
                MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': '%s' is not an integer", where,
                         k->key, value);
            v = (long)d;
        }
        MS_TRY(check_range(k, (double)v, where));
        *(long *)p = v;
        return MS_OK;
    }
    case MS_CFG_DOUBLE:
        return parse_double(k, value, (double *)p, where);
    case MS_CFG_BOOL: {
        int b;
        if (!strcasecmp(value, "true") || !strcasecmp(value, "yes") || !strcmp(value, "1"))
            b = 1;
        else if (!strcasecmp(value, "false") || !strcasecmp(value, "no") || !strcmp(value, "0"))
            b = 0;
        else
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': '%s' is not true or false", where,
                     k->key, value);
        *(int *)p = b;
        return MS_OK;
    }
    case MS_CFG_STRING:
        if (strlen(value) >= k->size)
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': value longer than %zu characters",
                     where, k->key, k->size - 1);
        memcpy(p, value, strlen(value) + 1);
        return MS_OK;
    case MS_CFG_LIST: {
        ms_cfg_list list = {0};
        const char *s = value;
        while (*s) {
            if (list.n == MS_CFG_LIST_MAX)
                MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': more than %d values", where, k->key,
                         MS_CFG_LIST_MAX);
            const char *comma = strchr(s, ',');
            size_t len = comma ? (size_t)(comma - s) : strlen(s);
            char item[64];
            if (len == 0 || len >= sizeof item)
                MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': bad list '%s'", where, k->key,
                         value);
            memcpy(item, s, len);
            item[len] = '\0';
            MS_TRY(parse_double(k, item, &list.v[list.n], where));
            list.n++;
            s = comma ? comma + 1 : s + len;
        }
        *(ms_cfg_list *)p = list;
        return MS_OK;
    }
    }
    MS_ERROR(MS_EINVAL, "configuration key '%s' has an unknown type", k->key);
}

ms_status ms_config_defaults(ms_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++)
        MS_TRY(set_from_string(cfg, k, k->default_value, "default: "));
    return MS_OK;
}

ms_status ms_config_set(ms_config *cfg, const char *assignment)
{
    const char *eq = strchr(assignment, '=');
    if (!eq || eq == assignment)
        MS_ERROR(MS_EINVAL, "override '%s' is not of the form section.key=value", assignment);
    char key[128];
    size_t len = (size_t)(eq - assignment);
    if (len >= sizeof key) MS_ERROR(MS_EINVAL, "override key too long in '%s'", assignment);
    memcpy(key, assignment, len);
    key[len] = '\0';
    const ms_cfg_key *k = ms_config_find(key);
    if (!k) MS_ERROR(MS_EINVAL, "unknown configuration key '%s' (in --set)", key);
    return set_from_string(cfg, k, eq + 1, "--set: ");
}

/* Convert one libconfig setting to --set syntax, checking its type. */
static ms_status setting_to_string(const ms_cfg_key *k, config_setting_t *s, char *buf,
                                   size_t len, const char *where)
{
    int t = config_setting_type(s);
    switch (k->type) {
    case MS_CFG_INT:
    case MS_CFG_DOUBLE:
        if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64)
            snprintf(buf, len, "%lld", (long long)config_setting_get_int64(s));
        else if (t == CONFIG_TYPE_FLOAT)
            snprintf(buf, len, "%.17g", config_setting_get_float(s));
        else
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s' must be a number", where, k->key);
        return MS_OK;
    case MS_CFG_BOOL:
        if (t != CONFIG_TYPE_BOOL)
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s' must be true or false", where, k->key);
        snprintf(buf, len, "%s", config_setting_get_bool(s) ? "true" : "false");
        return MS_OK;
    case MS_CFG_STRING:
        if (t != CONFIG_TYPE_STRING)
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s' must be a quoted string", where, k->key);
        snprintf(buf, len, "%s", config_setting_get_string(s));
        return MS_OK;
    case MS_CFG_LIST: {
        if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST)
            MS_ERROR(MS_EINVAL, "%sconfiguration key '%s' must be a list [a, b, ...]", where,
                     k->key);
        size_t used = 0;
        buf[0] = '\0';
        int n = config_setting_length(s);
        for (int i = 0; i < n; i++) {
            config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
            int et = config_setting_type(e);
            double v;
            if (et == CONFIG_TYPE_INT || et == CONFIG_TYPE_INT64)
                v = (double)config_setting_get_int64(e);
            else if (et == CONFIG_TYPE_FLOAT)
                v = config_setting_get_float(e);
            else
                MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': list element %d is not a number",
                         where, k->key, i);
            int w = snprintf(buf + used, len - used, "%s%.17g", i ? "," : "", v);
            if (w < 0 || (size_t)w >= len - used)
                MS_ERROR(MS_EINVAL, "%sconfiguration key '%s': list too long", where, k->key);
            used += (size_t)w;
        }
        return MS_OK;
    }
    }
    MS_ERROR(MS_EINVAL, "configuration key '%s' has an unknown type", k->key);
}

ms_status ms_config_load_file(ms_config *cfg, const char *path)
{
    config_t lc;
    config_init(&lc);
    if (config_read_file(&lc, path) != CONFIG_TRUE) {
        ms_status st = config_error_type(&lc) == CONFIG_ERR_FILE_IO ? MS_EIO : MS_EINVAL;
        if (st == MS_EIO)
            ms_error_set(st, __FILE__, __LINE__, "cannot read configuration file '%s'", path);
        else
            ms_error_set(st, __FILE__, __LINE__, "%s:%d: configuration syntax error: %s", path,
                         config_error_line(&lc), config_error_text(&lc));
        config_destroy(&lc);
        return st;
    }
    ms_status st = MS_OK;
    config_setting_t *root = config_root_setting(&lc);
    int nsec = config_setting_length(root);
    for (int i = 0; i < nsec && st == MS_OK; i++) {
        config_setting_t *sec = config_setting_get_elem(root, (unsigned)i);
        const char *sname = config_setting_name(sec);
        char where[512];
        snprintf(where, sizeof where, "%s:%d: ", path, config_setting_source_line(sec));
        if (config_setting_type(sec) != CONFIG_TYPE_GROUP) {
            st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                              "%s'%s' is not a section; write keys as %s = { key = value; };",
                              where, sname, sname);
            break;
        }
        int nk = config_setting_length(sec);
        for (int j = 0; j < nk && st == MS_OK; j++) {
            config_setting_t *s = config_setting_get_elem(sec, (unsigned)j);
            char key[160];
            snprintf(key, sizeof key, "%s.%s", sname, config_setting_name(s));
            snprintf(where, sizeof where, "%s:%d: ", path, config_setting_source_line(s));
            const ms_cfg_key *k = ms_config_find(key);
            if (!k) {
                st = ms_error_set(MS_EINVAL, __FILE__, __LINE__,
                                  "%sunknown configuration key '%s'", where, key);
                break;
            }
            char value[MS_CFG_LIST_MAX * 32];
            st = setting_to_string(k, s, value, sizeof value, where);
            if (st == MS_OK) st = set_from_string(cfg, k, value, where);
        }
    }
    config_destroy(&lc);
    return st;
}

static int one_of(const char *s, const char *const *options)
{
    for (; *options; options++)
        if (strcmp(s, *options) == 0) return 1;
    return 0;
}

ms_status ms_config_validate(const ms_config *cfg)
{
    static const char *const levels[] = {"debug", "info", "warn", "error", NULL};
    static const char *const masks[] = {"ormask", "andmask", "both", "none", NULL};
    static const char *const formats[] = {"spec7", "fits", "both", NULL};
    static const char *const losses[] = {"l1", "l2", NULL};
    static const char *const optimizers[] = {"adam", "radam", NULL};
    if (!one_of(cfg->general.log_level, levels))
        MS_ERROR(MS_EINVAL, "configuration key 'general.log_level': '%s' is not one of debug, info, "
                 "warn, error", cfg->general.log_level);
    const ms_cfg_preprocess *p = &cfg->preprocess;
    if (p->wave_max <= p->wave_min + p->wave_step)
        MS_ERROR(MS_EINVAL, "configuration keys 'preprocess.wave_min' (%g) and "
                 "'preprocess.wave_max' (%g) leave no pixels", p->wave_min, p->wave_max);
    if (!one_of(p->mask_source, masks))
        MS_ERROR(MS_EINVAL, "configuration key 'preprocess.mask_source': '%s' is not one of "
                 "ormask, andmask, both, none", p->mask_source);
    if (p->fit_masks.n % 2 != 0)
        MS_ERROR(MS_EINVAL, "configuration key 'preprocess.fit_masks' needs (lo, hi) pairs; "
                 "it has %d values", p->fit_masks.n);
    for (int i = 0; i < p->fit_masks.n; i += 2)
        if (p->fit_masks.v[i] >= p->fit_masks.v[i + 1])
            MS_ERROR(MS_EINVAL, "configuration key 'preprocess.fit_masks': range %d (%g, %g) is "
                     "empty", i / 2, p->fit_masks.v[i], p->fit_masks.v[i + 1]);
    const ms_cfg_list *axes[] = {&cfg->simulate.grid_teff, &cfg->simulate.grid_logg,
                                 &cfg->simulate.grid_mh};
    const char *axis_names[] = {"grid_teff", "grid_logg", "grid_mh"};
    for (int a = 0; a < 3; a++) {
        const ms_cfg_list *l = axes[a];
        if (l->n != 3 || l->v[2] <= 0 || l->v[1] < l->v[0])
            MS_ERROR(MS_EINVAL, "configuration key 'simulate.%s' must be min, max, step with "
                     "step > 0 and max >= min", axis_names[a]);
    }
    {
        const ms_cfg_simulate *c = &cfg->simulate;
        double fsum = c->fraction_mgiant + c->fraction_ob + c->fraction_a + c->fraction_f +
                      c->fraction_g + c->fraction_k + c->fraction_wd + c->fraction_galaxy +
                      c->fraction_qso;
        if (fsum > 1.0 + 1e-9)
            MS_ERROR(MS_EINVAL, "configuration keys 'simulate.fraction_*' add up to %g: at most 1 "
                     "(the rest are M dwarfs)", fsum);
    }
    if (!one_of(cfg->simulate.grid_format, formats))
        MS_ERROR(MS_EINVAL, "configuration key 'simulate.grid_format': '%s' is not one of spec7, "
                 "fits, both", cfg->simulate.grid_format);
    if (!one_of(cfg->emulator.loss, losses))
        MS_ERROR(MS_EINVAL, "configuration key 'emulator.loss': '%s' is not l1 or l2",
                 cfg->emulator.loss);
    if (!one_of(cfg->emulator.optimizer, optimizers))
        MS_ERROR(MS_EINVAL, "configuration key 'emulator.optimizer': '%s' is not adam or radam",
                 cfg->emulator.optimizer);
    return MS_OK;
}

void ms_config_format_value(const ms_config *cfg, const ms_cfg_key *k, char *buf, size_t len)
{
    const void *p = field_cptr(cfg, k);
    switch (k->type) {
    case MS_CFG_INT: snprintf(buf, len, "%ld", *(const long *)p); break;
    case MS_CFG_DOUBLE: snprintf(buf, len, "%.17g", *(const double *)p); break;
    case MS_CFG_BOOL: snprintf(buf, len, "%s", *(const int *)p ? "true" : "false"); break;
    case MS_CFG_STRING: snprintf(buf, len, "%s", (const char *)p); break;
    case MS_CFG_LIST: {
        const ms_cfg_list *l = p;
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < l->n && used < len; i++) {
            int w = snprintf(buf + used, len - used, "%s%.17g", i ? "," : "", l->v[i]);
            if (w < 0) break;
            used += (size_t)w;
        }
        break;
    }
    }
}

/* Shortest text that reads back as exactly v, always with a decimal point or exponent
 * (libconfig types 6000 as an integer and 6000.0 as a float). */
static void format_double(double v, char *buf, size_t len)
{
    snprintf(buf, len, "%.15g", v);
    if (strtod(buf, NULL) != v) snprintf(buf, len, "%.17g", v);
    if (!strpbrk(buf, ".eEn")) strncat(buf, ".0", len - strlen(buf) - 1);
}

/* Write one value in libconfig syntax (doubles always with a decimal point, so that
 * libconfig reads them back as floats). */
static void write_value(FILE *out, const ms_config *cfg, const ms_cfg_key *k)
{
    const void *p = field_cptr(cfg, k);
    switch (k->type) {
    case MS_CFG_INT: fprintf(out, "%ld", *(const long *)p); break;
    case MS_CFG_DOUBLE: {
        char num[40];
        format_double(*(const double *)p, num, sizeof num);
        fputs(num, out);
        break;
    }
    case MS_CFG_BOOL: fprintf(out, "%s", *(const int *)p ? "true" : "false"); break;
    case MS_CFG_STRING: fprintf(out, "\"%s\"", (const char *)p); break;
    case MS_CFG_LIST: {
        const ms_cfg_list *l = p;
        fputc('[', out);
        for (int i = 0; i < l->n; i++) {
            char num[40];
            format_double(l->v[i], num, sizeof num);
            fprintf(out, "%s%s", i ? ", " : "", num);
        }
        fputc(']', out);
        break;
    }
    }
}

ms_status ms_config_write(const ms_config *cfg, FILE *out, int with_docs)
{
    char section[64] = "";
    for (const ms_cfg_key *k = ms_config_keys; k->key; k++) {
        const char *dot = strchr(k->key, '.');
        size_t slen = (size_t)(dot - k->key);
        if (strlen(section) != slen || strncmp(section, k->key, slen) != 0) {
            if (section[0]) fprintf(out, "};\n\n");
            memcpy(section, k->key, slen);
            section[slen] = '\0';
            fprintf(out, "%s = {\n", section);
        }
        if (with_docs)
            fprintf(out, "  # %s%s%s%s\n", k->description, k->unit[0] ? " [" : "", k->unit,
                    k->unit[0] ? "]" : "");
        fprintf(out, "  %s = ", dot + 1);
        write_value(out, cfg, k);
        fprintf(out, ";\n");
    }
    if (section[0]) fprintf(out, "};\n");
    if (ferror(out)) MS_ERROR(MS_EIO, "writing the configuration failed");
    return MS_OK;
}

char *ms_config_to_string(const ms_config *cfg)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&buf, &len);
    if (!mem) {
        ms_error_set(MS_ENOMEM, __FILE__, __LINE__, "cannot format the configuration");
        return NULL;
    }
    ms_status st = ms_config_write(cfg, mem, 0);
    fclose(mem);
    if (st != MS_OK || !buf) {
        free(buf);
        return NULL;
    }
    char *out = ms_malloc("config.text", len + 1);
    if (out) memcpy(out, buf, len + 1);
    free(buf);
    return out;
}
