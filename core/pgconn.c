/* core/pgconn.c - PostgreSQL connections (being written). */
#define _GNU_SOURCE
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "hostpriv.h"

struct pgm_pg {
	PGconn *conn;
};

pgm_pg *pgm_pg_connect(pgm_call *call, const char *conninfo, const char *app)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return NULL;
}
void pgm_pg_close(pgm_pg *pg) { free(pg); }
PGconn *pgm_pg_conn(pgm_pg *pg) { return pg ? pg->conn : NULL; }
const char *pgm_pg_describe(const pgm_pg *pg) { return ""; }
const char *pgm_pg_sqlstate(const pgm_pg *pg) { return ""; }
PGresult *pgm_pg_exec(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		      const char *const *params)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return NULL;
}
int pgm_pg_command(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		   const char *const *params)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return -1;
}
json_t *pgm_pg_query_json(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
			  const char *const *params)
{
	return pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
}
char *pgm_pg_quote_ident(pgm_pg *pg, const char *ident) { return NULL; }
int pgm_pg_send(pgm_call *call, pgm_pg *pg, const char *sql, int nparams,
		const char *const *params)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return -1;
}
int pgm_pg_wait_any(pgm_call *call, pgm_pg *const *pgs, int n)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return -1;
}
PGresult *pgm_pg_result(pgm_call *call, pgm_pg *pg)
{
	pgm_fail(call, "pg.connect", 0, "pg: not implemented yet");
	return NULL;
}
int pgm_pg_busy(const pgm_pg *pg) { return 0; }
