/* payne_grid.c: sharing a loaded training grid between the ranks (see payne.h). */
#include "mstars/mem.h"
#include "mstars/payne.h"

#include <string.h>

void ms_payne_grid_free(ms_payne_grid *g)
{
    ms_free(g->flux);
    ms_free(g->labels);
    ms_free(g->rows);
    ms_free(g->wavelength);
    memset(g, 0, sizeof *g);
}

ms_status ms_payne_grid_bcast(ms_payne_grid *g, const ms_comm *comm)
{
    if (comm->size == 1) return MS_OK;
    size_t hdr[4] = {g->data.n_models, g->data.n_pix, g->data.n_labels, g->n_rows};
    MS_TRY(comm->bcast(hdr, sizeof hdr));
    MS_TRY(comm->bcast(g->names, sizeof g->names));
    const size_t N = hdr[0], P = hdr[1], D = hdr[2];
    if (comm->rank != 0) {
        g->flux = ms_malloc_array("grid.flux", N * P, sizeof(float));
        g->labels = ms_malloc_array("grid.labels", N * D, sizeof(double));
        g->rows = ms_malloc_array("grid.rows", N, sizeof(int64_t));
        g->wavelength = ms_malloc_array("grid.wavelength", P, sizeof(double));
    }
    ms_status st = (g->flux && g->labels && g->rows && g->wavelength) ? MS_OK : MS_ENOMEM;
    MS_TRY(comm->any_failed(st));
    MS_TRY(comm->bcast(g->flux, N * P * sizeof(float)));
    MS_TRY(comm->bcast(g->labels, N * D * sizeof(double)));
    MS_TRY(comm->bcast(g->rows, N * sizeof(int64_t)));
    MS_TRY(comm->bcast(g->wavelength, P * sizeof(double)));
    g->n_rows = hdr[3];
    g->data = (ms_payne_data){g->flux, g->labels, g->rows, N, P, D};
    return MS_OK;
}
