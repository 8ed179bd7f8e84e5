/* lamost_write.c: LAMOST LRS spectrum files as the real pipeline writes them (for the mock
 * survey of `mstars simulate`).
 *
 * DR9 and later (MS_LAMOST_COADD), as in real DR10 files written by MWRFITS:
 *   HDU0: header only, BITPIX = 16, NAXIS = 0 followed by the stale NAXIS1 = npix and
 *         NAXIS2 = 5 cards, N_EXTEN = 2, NORM = 1, then the observation, telescope,
 *         spectrograph, weather, reduction and analysis keywords (OBSID, RA, DEC, LMJD,
 *         PLANID, SPID, FIBERID, CLASS, SUBCLASS, Z, Z_ERR, SNRU..SNRZ, COEFF0/1, ...).
 *   HDU1: BINTABLE EXTNAME = 'COADD', one row, six float32 vector columns of npix elements:
 *         FLUX, IVAR, WAVELENGTH, ANDMASK, ORMASK (masks as floats), NORMALIZATION.
 * DR5-8 (MS_LAMOST_IMAGE): the primary HDU is a BITPIX = -32 image, NAXIS1 = npix,
 *   NAXIS2 = 5 rows flux, inverse variance, wavelength, andmask, ormask, with
 *   EXTEN0 = 'Flux, Inverse, Wavelength, Andmask, Ormask', N_EXTEN = 1, EXTNAME = 'Flux', the
 *   DR5-era fibre keywords (FIBERTYP, FIBERMAS, MAGTYPE, MAG1..MAG7); no extension.
 * A path ending in ".gz" is gzip-compressed by cfitsio when the file is closed.
 * Every value is deterministic (DATE is the release's processing date, not the clock), so
 * the same mock survey gives byte-identical files. */
#include "mstars/sim.h"

#include <errno.h>
#include <fitsio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static ms_status fits_fail(const char *path, const char *what, int st)
{
    char msg[FLEN_STATUS];
    fits_get_errstatus(st, msg);
    fits_clear_errmsg();
    MS_ERROR(MS_EIO, "%s: %s: cfitsio error %d (%s)", path, what, st, msg);
}

/* Keyword writers that keep going only while the status is 0 (cfitsio convention). */
static void key_str(fitsfile *f, const char *k, const char *v, const char *c, int *st)
{
    fits_write_key(f, TSTRING, k, (void *)v, c, st);
}
static void key_lng(fitsfile *f, const char *k, long v, const char *c, int *st)
{
    fits_write_key_lng(f, k, v, c, st);
}
static void key_dbl(fitsfile *f, const char *k, double v, int dec, const char *c, int *st)
{
    fits_write_key_fixdbl(f, k, v, dec, c, st);
}
static void key_log(fitsfile *f, const char *k, int v, const char *c, int *st)
{
    fits_write_key_log(f, k, v, c, st);
}
static void comment(fitsfile *f, const char *text, int *st) { fits_write_comment(f, text, st); }

/* Processing date of a release (DATE keyword). */
static const char *release_date(const char *data_v)
{
    static const struct {
        const char *v, *d;
    } dates[] = {
        {"LAMOST DR5", "2017-06-16T09:12:44"}, {"LAMOST DR6", "2018-08-20T02:41:10"},
        {"LAMOST DR7", "2019-02-01T08:27:07"}, {"LAMOST DR8", "2020-07-15T05:30:21"},
        {"LAMOST DR9", "2021-09-28T11:04:52"}, {"LAMOST DR10", "2023-03-13T03:43:28"},
        {"LAMOST DR11", "2024-05-30T07:18:03"},
    };
    for (size_t i = 0; i < sizeof dates / sizeof dates[0]; i++)
        if (strcmp(dates[i].v, data_v) == 0) return dates[i].d;
    return "2023-03-13T03:43:28";
}

/* MJD to "YYYY-MM-DDThh:mm:ss.s" (UTC). */
static void mjd_to_iso(double mjd, char *buf, size_t len)
{
    long days = (long)floor(mjd);
    double frac = mjd - (double)days;
    long z = days - 40587 + 719468;
    long era = (z >= 0 ? z : z - 146096) / 146097;
    long doe = z - era * 146097;
    long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int mo = (int)(mp < 10 ? mp + 3 : mp - 9);
    int y = (int)(yoe + era * 400 + (mo <= 2));
    double sec = frac * 86400.0;
    int hh = (int)(sec / 3600), mm = (int)((sec - hh * 3600) / 60);
    double ss = sec - hh * 3600 - mm * 60;
    snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%04.1f", y % 10000, mo % 100, d % 100, hh % 100,
             mm % 100, ss);
}

/* Make the primary header start as MWRFITS writes it: no cfitsio boilerplate comments. */
static void mwrfits_style(fitsfile *f, int *st)
{
    if (*st) return;
    int nkeys = 0, more = 0;
    fits_get_hdrspace(f, &nkeys, &more, st);
    for (int k = nkeys; k >= 1 && !*st; k--) {
        char card[FLEN_CARD];
        fits_read_record(f, k, card, st);
        if (strncmp(card, "COMMENT   FITS (Flexible", 24) == 0 ||
            strncmp(card, "COMMENT   and Astrophysics", 26) == 0)
            fits_delete_record(f, k, st);
    }
    fits_modify_comment(f, "SIMPLE", "Primary Header created by MWRFITS v1.11b", st);
}

static void write_header(fitsfile *f, ms_lamost_layout layout, const ms_sim_lamost_header *h,
                         int npix, int *st)
{
    int dr9 = layout == MS_LAMOST_COADD;
    char buf[80];
    comment(f, "--------FILE INFORMATION", st);
    key_str(f, "FILENAME", h->filename, "", st);
    key_lng(f, "OBSID", h->obsid, "Unique number ID of this spectrum", st);
    key_str(f, "AUTHOR", "LAMOST Pipeline", "Who compiled the information", st);
    key_str(f, "DATA_V", h->data_v, "Data release version", st);
    if (dr9) {
        key_lng(f, "N_EXTEN", 2, "The amount of extension", st);
        key_lng(f, "NORM", 1, "1 if there exists a normalizated spectrum", st);
    } else {
        key_str(f, "EXTEN0", "Flux, Inverse, Wavelength, Andmask, Ormask", "", st);
        key_lng(f, "N_EXTEN", 1, "The extension number", st);
        key_str(f, "EXTNAME", "Flux", "The extension name", st);
    }
    key_str(f, "ORIGIN", "NAOC-LAMOST", "Organization responsible for creating this file", st);
    key_str(f, "DATE", release_date(h->data_v), "Time when this HDU is created (UTC)", st);
    comment(f, "--------TELESCOPE PARAMETERS", st);
    key_str(f, "TELESCOP", "LAMOST", "GuoShouJing Telescope", st);
    key_dbl(f, "LONGITUD", 117.58, 2, "[deg] Longitude of site", st);
    key_dbl(f, "LATITUDE", 40.39, 2, "[deg] Latitude of site", st);
    key_lng(f, "FOCUS", 19964, "[mm] Telescope focus", st);
    key_str(f, "CAMPRO", "NEWCAM", "Camera program name", st);
    key_str(f, "CAMVER", "v2.0", "Camera program version", st);
    comment(f, "--------OBSERVATION PARAMETERS", st);
    /* the median exposure time is about 21:00 UTC (05:00 local) of the night */
    double mjd_mid = (double)h->lmjd - 1.0 + 0.875;
    mjd_to_iso(mjd_mid, buf, sizeof buf);
    key_str(f, "DATE-OBS", buf, "The observation median UTC", st);
    mjd_to_iso(mjd_mid + 8.0 / 24.0 - 0.5 * h->exptime / 86400.0 * 1.3, buf, sizeof buf);
    key_str(f, "DATE-BEG", buf, "The observation start local time", st);
    mjd_to_iso(mjd_mid + 8.0 / 24.0 + 0.5 * h->exptime / 86400.0 * 1.3, buf, sizeof buf);
    key_str(f, "DATE-END", buf, "The observation end local time", st);
    key_lng(f, "LMJD", h->lmjd, "Local Modified Julian Day", st);
    key_lng(f, "MJD", h->lmjd - 1, "Modified Julian Day", st);
    long lmjm = h->lmjd * 1440L + 300;
    snprintf(buf, sizeof buf, "%ld-%ld", lmjm, lmjm + (long)(h->exptime / 60.0));
    key_str(f, "LMJMLIST", buf, "Local Modified Julian Minute list", st);
    key_str(f, "PLANID", h->planid, "Plan ID in use", st);
    key_dbl(f, "RA", h->ra, 6, "[deg] Right ascension of object", st);
    key_dbl(f, "DEC", h->dec, 6, "[deg] Declination of object", st);
    key_dbl(f, "RA_OBS", h->ra, 6, "[deg] Right ascension during observing", st);
    key_dbl(f, "DEC_OBS", h->dec, 6, "[deg] Declination during observing", st);
    key_log(f, "OFFSET", 0, "Whether there's a offset during observing", st);
    key_dbl(f, "OFFSET_V", 0.0, 2, "Offset value in arcsecond", st);
    {
        double rh = h->ra / 15.0;
        int a = (int)rh, b = (int)((rh - a) * 60);
        double c = ((rh - a) * 60 - b) * 60;
        double ad = fabs(h->dec);
        int d = (int)ad, e = (int)((ad - d) * 60);
        double g = ((ad - d) * 60 - e) * 60;
        snprintf(buf, sizeof buf, "LAMOST J%02d%02d%05.2f%c%02d%02d%04.1f", a % 100, b % 100, c,
                 h->dec < 0 ? '-' : '+', d % 100, e % 100, g);
        key_str(f, "DESIG", buf, "Designation of LAMOST target", st);
    }
    key_lng(f, "FIBERID", h->fiberid, "Fiber ID of Object", st);
    snprintf(buf, sizeof buf, "%c%d%03d", 'A' + (h->spid - 1) % 16, h->spid % 10, h->fiberid % 1000);
    key_str(f, "CELL_ID", buf, "Fiber Unit ID on the focal plane", st);
    key_str(f, "OBJNAME", h->objname, "Name of object", st);
    key_str(f, "OBJTYPE", "Star", "Object type from input catalog", st);
    key_str(f, "TSOURCE", "LEGAS_MS", "Name of input catalog", st);
    key_str(f, "TCOMMENT", ".", "Target information", st);
    key_str(f, "TFROM", "-", "Target catalog", st);
    if (dr9) {
        key_str(f, "FIB_TYPE", "Obj", "Fiber type of object", st);
        key_lng(f, "FIB_MASK", 0, "Bitmask of warning values, 0 means good", st);
        static const char *ps[5] = {"MAG_PS_G", "MAG_PS_R", "MAG_PS_I", "MAG_PS_Z", "MAG_PS_Y"};
        for (int i = 0; i < 5; i++) key_dbl(f, ps[i], h->mag[i], 2, "[mag] Magnitude of object", st);
    } else {
        key_str(f, "FIBERTYP", "Obj", "Fiber type of object", st);
        key_lng(f, "FIBERMAS", 0, "Bitmask of warning values, 0 means all is well", st);
        key_str(f, "MAGTYPE", "grizy", "Magnitude type of object", st);
        for (int i = 0; i < 7; i++) {
            char k[16], c[32];
            snprintf(k, sizeof k, "MAG%d", i + 1);
            snprintf(c, sizeof c, "[mag] Mag%d of object", i + 1);
            key_dbl(f, k, i < 5 ? h->mag[i] : 99.0, 2, c, st);
        }
    }
    key_str(f, "OBS_TYPE", "OBJ", "The type of target (OBJ, FLAT, ARC or BIAS)", st);
    key_str(f, "OBSCOMM", "Science", "Science or Test", st);
    key_str(f, "RADECSYS", "FK5", "Equatorial coordinate system", st);
    key_dbl(f, "EQUINOX", 2000.0, 2, "Equinox in years", st);
    key_str(f, "LAMPLIST", "lamphgcdne.dat", "Arc lamp emission line list", st);
    key_str(f, "SKYLIST", "skylines.dat", "Sky emission line list", st);
    int nexp = (int)lround(h->exptime / 600.0);
    key_lng(f, "NEXP", nexp, "Number of valid exposures", st);
    key_lng(f, "NEXP_B", nexp, "Number of valid blue exposures", st);
    key_lng(f, "NEXP_R", nexp, "Number of valid red exposures", st);
    key_dbl(f, "EXPT_B", h->exptime, 2, "[s] Blue exposure duration time", st);
    key_dbl(f, "EXPT_R", h->exptime, 2, "[s] Red exposure duration time", st);
    key_dbl(f, "EXPTIME", h->exptime, 2, "[s] Minimum of exposure time for all cameras", st);
    key_lng(f, "BESTEXP", lmjm, "LMJM of the best exposure", st);
    key_dbl(f, "SCAMEAN", 3.2, 2, "[ADU] Mean level of scatter light", st);
    comment(f, "--------SPECTROGRAPH PARAMETERS", st);
    key_lng(f, "SPID", h->spid, "Spectrograph ID", st);
    key_dbl(f, "SPRA", h->ra, 7, "[deg] Average RA of this spectrograph", st);
    key_dbl(f, "SPDEC", h->dec, 7, "[deg] Average DEC of this spectrograph", st);
    key_str(f, "SLIT_MOD", "x2/3", "Slit mode, x1, x2/3 or x1/2", st);
    comment(f, "--------WEATHER CONDITION", st);
    key_dbl(f, "TEMPCCDB", -113.5, 2, "[deg] The temperature of blue CCD", st);
    key_dbl(f, "TEMPCCDR", -113.5, 2, "[deg] The temperature of red CCD", st);
    key_dbl(f, "SEEING", h->seeing, 2, "[arcsec] Seeing during exposure", st);
    key_dbl(f, "MOONPHA", h->moon_phase, 2, "[day] Moon phase for a 29.53 days period", st);
    key_dbl(f, "TEMP_AIR", 4.5, 2, "[deg] Temperature outside dome", st);
    key_dbl(f, "TEMP_FP", 9.6, 2, "[degree celsius] Temprature of the focalplane", st);
    key_dbl(f, "DEWPOINT", -7.2, 2, "[deg]", st);
    key_str(f, "DUST", "", "Reservation", st);
    key_dbl(f, "HUMIDITY", 0.40, 2, "", st);
    key_dbl(f, "WINDD", 302.6, 2, "[deg] Wind direction", st);
    key_dbl(f, "WINDS", 3.6, 2, "[m/s] Wind speed", st);
    key_str(f, "SKYLEVEL", "", "Reservation", st);
    comment(f, "--------DATA REDUCTION PARAMETERS", st);
    key_str(f, "EXTRACT", "aperture", "Extraction method", st);
    key_log(f, "SFLATTEN", 1, "Super flat has been applied", st);
    key_log(f, "PCASKYSB", 1, "PCA sky-subtraction has been applied", st);
    key_lng(f, "NSKIES", 20, "Sky fiber number", st);
    key_dbl(f, "SKYCHI2", 2.1, 1, "Mean chi^2 of sky-subtraction", st);
    key_dbl(f, "SCHI2MIN", 1.5, 1, "Minimum chi^2 of sky-subtraction", st);
    key_dbl(f, "SCHI2MAX", 3.4, 1, "Maximum chi^2 of sky-subtraction", st);
    key_lng(f, "NSTD", 4, "Number of (good) standard stars", st);
    key_str(f, "FSTAR", "14-97-191-230", "FiberID of flux standard stars", st);
    key_str(f, "FCBY", "catalog", "Standard stars origin (auto, manual or catalog)", st);
    key_log(f, "HELIO", 1, "Heliocentric correction", st);
    key_dbl(f, "HELIO_RV", h->helio_rv, 5, "[km/s] Heliocentric correction", st);
    key_log(f, "VACUUM", 1, "Wavelengths are in vacuum", st);
    key_lng(f, "NWORDER", 2, "Number of linear-log10 coefficients", st);
    key_str(f, "WFITTYPE", "LOG-LINEAR", "Linear-log10 dispersion", st);
    key_dbl(f, "COEFF0", MS_SIM_LAMOST_COEFF0, 4, "Central wavelength (log10) of first pixel", st);
    key_dbl(f, "COEFF1", MS_SIM_LAMOST_COEFF1, 4, "Log10 dispersion per pixel", st);
    key_str(f, "WAT0_001", "system=linear", "", st);
    key_str(f, "WAT1_001", "wtype=linear label=Wavelength units=Angstroms", "", st);
    key_dbl(f, "CRVAL1", MS_SIM_LAMOST_COEFF0, 4, "Central wavelength (log10) of first pixel", st);
    key_dbl(f, "CD1_1", MS_SIM_LAMOST_COEFF1, 4, "Log10 dispersion per pixel", st);
    key_lng(f, "CRPIX1", 1, "Starting pixel (1-indexed)", st);
    key_str(f, "CTYPE1", "LINEAR", "", st);
    key_lng(f, "DC-FLAG", 1, "Log-linear flag", st);
    comment(f, "--------SPECTRA ANALYSIS RESULTS", st);
    key_str(f, "VERSPIPE", dr9 ? "v2.9.8" : "v2.9.7", "Version of Pipeline", st);
    key_str(f, "CLASS", h->cls, "Class of object", st);
    key_str(f, "SUBCLASS", h->subclass, "Subclass of object", st);
    key_dbl(f, "Z", h->z, 8, "Redshift of object", st);
    key_dbl(f, "Z_ERR", h->z_err, 8, "Redshift error of object", st);
    key_str(f, "ZFLAG", "LASP", "Which method computes the redshift", st);
    static const char *snk[5] = {"SNRU", "SNRG", "SNRR", "SNRI", "SNRZ"};
    static const char *snc[5] = {"SNR of u filter", "SNR of g filter", "SNR of r filter",
                                 "SNR of i filter", "SNR of z filter"};
    for (int i = 0; i < 5; i++) key_dbl(f, snk[i], h->snr[i], 2, snc[i], st);
    (void)npix;
}

ms_status ms_sim_lamost_write(const char *path, ms_lamost_layout layout,
                              const ms_sim_lamost_header *h, const ms_sim_spectrum *sp,
                              ms_sim_pathology pathology)
{
    if (layout != MS_LAMOST_COADD && layout != MS_LAMOST_IMAGE)
        MS_ERROR(MS_EINVAL, "%s: the mock survey writes only the COADD and image layouts", path);
    int npix = sp->npix;
    if (npix < 1 || npix > MS_SIM_LAMOST_NPIX_MAX)
        MS_ERROR(MS_EINVAL, "%s: %d pixels", path, npix);
    char name[1100];
    snprintf(name, sizeof name, "!%s", path); /* '!' overwrites an existing file */
    fitsfile *f = NULL;
    int st = 0;
    if (fits_create_file(&f, name, &st)) return fits_fail(path, "creating the file", st);
    if (layout == MS_LAMOST_COADD) {
        fits_create_img(f, SHORT_IMG, 0, NULL, &st);
        mwrfits_style(f, &st);
        /* MWRFITS leaves the stale NAXIS1/NAXIS2 cards after NAXIS = 0 */
        char card[FLEN_CARD];
        snprintf(card, sizeof card, "NAXIS1  = %20d /", npix);
        fits_insert_record(f, 4, card, &st);
        snprintf(card, sizeof card, "NAXIS2  = %20d /", 5);
        fits_insert_record(f, 5, card, &st);
        write_header(f, layout, h, npix, &st);
        if (st) {
            int s2 = 0;
            fits_close_file(f, &s2);
            return fits_fail(path, "writing the primary header", st);
        }
        if (pathology != MS_SIM_PATH_MISSING_EXT) {
            char *ttype[6] = {"FLUX", "IVAR", "WAVELENGTH", "ANDMASK", "ORMASK", "NORMALIZATION"};
            char tf[16];
            snprintf(tf, sizeof tf, "%dE", npix);
            char *tform[6] = {tf, tf, tf, tf, tf, tf};
            fits_create_tbl(f, BINARY_TBL, 1, 6, ttype, tform, NULL, "COADD", &st);
            const float *cols[6] = {sp->flux, sp->ivar, sp->wave, sp->andmask, sp->ormask, sp->norm};
            for (int c = 0; c < 6; c++)
                fits_write_col(f, TFLOAT, c + 1, 1, 1, npix, (void *)cols[c], &st);
        }
    } else {
        long ax[2] = {npix, 5};
        fits_create_img(f, FLOAT_IMG, 2, ax, &st);
        mwrfits_style(f, &st);
        write_header(f, layout, h, npix, &st);
        const float *rows[5] = {sp->flux, sp->ivar, sp->wave, sp->andmask, sp->ormask};
        for (int r = 0; r < 5; r++) {
            long fp[2] = {1, r + 1};
            fits_write_pix(f, TFLOAT, fp, npix, (void *)rows[r], &st);
        }
    }
    if (st) {
        int s2 = 0;
        fits_close_file(f, &s2);
        return fits_fail(path, "writing the spectrum", st);
    }
    if (fits_close_file(f, &st)) return fits_fail(path, "closing the file", st);
    if (pathology == MS_SIM_PATH_TRUNCATED) {
        struct stat sb;
        if (stat(path, &sb) != 0)
            MS_ERROR(MS_EIO, "%s: stat after writing: %s", path, strerror(errno));
        off_t keep = sb.st_size * 3 / 5;
        if (truncate(path, keep) != 0)
            MS_ERROR(MS_EIO, "%s: truncating to %lld bytes: %s", path, (long long)keep,
                     strerror(errno));
    }
    return MS_OK;
}
