/* test_sanity.c: the catalog-wide sanity verdict (sanity.h) on counts built by hand:
 *   - a healthy population (Teff spread over 2800-3900 K falling 200 K per subtype, log g
 *     spread, few mismatches) passes;
 *   - 25% of the rows at the log g bound fail (pile-up, named as a bound), 25% at one
 *     Teff inside the range fail (pile-up at one value), 20% at one value pass;
 *   - 60% model_mismatch rows fail (chi^2 excess), 40% pass;
 *   - a flat Teff against the subtype fails; too few rows or subtypes: not judged;
 *   - subclass texts and bins map as documented. */
#include "test_util.h"

#include "mstars/sanity.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const double lo[4] = {2500, 4.0, NAN, NAN}, hi[4] = {4000, 5.5, NAN, NAN};

/* n rows: Teff = 3900 - 200 (subtype) + jitter, subtypes M0..M5, log g spread */
static void healthy(ms_sanity_counts *c, int n)
{
    memset(c, 0, sizeof *c);
    for (int i = 0; i < n; i++) {
        const int st = i % 6; /* M0..M5 */
        const double teff = 3900 - 200 * st + (i % 7) * 20 - 60;
        const double logg = 4.5 + 0.9 * ((i * 37) % 100) / 100.0;
        c->fitted += 1;
        c->hist[0][ms_sanity_bin(teff, lo[0], hi[0])] += 1;
        c->hist[1][ms_sanity_bin(logg, lo[1], hi[1])] += 1;
        c->sub_n[2 + st] += 1;
        c->sub_teff[2 + st] += round(teff);
        c->mismatch += i % 10 == 0;
    }
}

static void test_verdicts(void **state)
{
    (void)state;
    const ms_sanity_opts o = MS_SANITY_DEFAULTS;
    ms_sanity_counts c;
    ms_sanity_result r;
    healthy(&c, 200);
    ms_sanity_evaluate(&c, lo, hi, &o, &r);
    printf("%s\n", r.text);
    assert_int_equal(r.pass, 1);
    assert_close(r.teff_slope, -200, 0.01, 0, "slope");
    assert_true(isnan(r.pile_frac[2]));
    /* 25% of the rows at the log g bound */
    ms_sanity_counts b = c;
    b.hist[1][MS_SANITY_BINS - 1] += 200.0 / 3;
    b.fitted += 200.0 / 3;
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    printf("%s\n", r.text);
    assert_int_equal(r.pass, 0);
    assert_int_equal(r.pile[1], 1);
    assert_non_null(strstr(r.text, "(a bound)"));
    /* 25% at one Teff inside the range; 20% is allowed */
    b = c;
    b.hist[0][50] += 200.0 / 3;
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    assert_int_equal(r.pile[0], 1);
    assert_null(strstr(r.text, "(a bound)"));
    b = c;
    const double others = 200 - b.hist[0][50];
    b.hist[0][50] = 0.19 * others / 0.81; /* 19% of the rows in one bin: allowed */
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    assert_int_equal(r.pile[0], 0);
    /* chi^2 excess */
    b = c;
    b.mismatch = 0.6 * b.fitted;
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    assert_int_equal(r.chi2_excess, 1);
    assert_int_equal(r.pass, 0);
    b.mismatch = 0.4 * b.fitted;
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    assert_int_equal(r.pass, 1);
    /* flat Teff against the subtype */
    b = c;
    for (int k = 0; k < MS_SANITY_SUBTYPES; k++) b.sub_teff[k] = 4020.0 * b.sub_n[k];
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    printf("%s\n", r.text);
    assert_int_equal(r.teff_subclass_bad, 1);
    assert_non_null(strstr(r.text, "SUBCLASS"));
    /* one subtype only: not judged */
    memset(b.sub_n, 0, sizeof b.sub_n);
    b.sub_n[4] = 50;
    ms_sanity_evaluate(&b, lo, hi, &o, &r);
    assert_true(isnan(r.teff_slope));
    assert_int_equal(r.teff_subclass_bad, 0);
}

static void test_maps(void **state)
{
    (void)state;
    assert_int_equal(ms_sanity_subtype("K5"), 0);
    assert_int_equal(ms_sanity_subtype("K7"), 1);
    assert_int_equal(ms_sanity_subtype("M0"), 2);
    assert_int_equal(ms_sanity_subtype("dM3.5"), 5);
    assert_int_equal(ms_sanity_subtype("M9"), 11);
    assert_int_equal(ms_sanity_subtype("G2"), -1);
    assert_int_equal(ms_sanity_subtype("Non"), -1);
    assert_int_equal(ms_sanity_subtype(""), -1);
    assert_int_equal(ms_sanity_bin(2500, 2500, 4000), 0);
    assert_int_equal(ms_sanity_bin(4000, 2500, 4000), MS_SANITY_BINS - 1);
    assert_int_equal(ms_sanity_bin(2514.9, 2500, 4000), 0);
    assert_int_equal(ms_sanity_bin(2515.1, 2500, 4000), 1);
    assert_int_equal(ms_sanity_bin(4000.1, 2500, 4000), -1);
    assert_int_equal(ms_sanity_bin(NAN, 2500, 4000), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_verdicts),
        cmocka_unit_test(test_maps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
