/* Internals shared by the files of the store module (store.c, store-query.c); nothing outside
 * the module includes this. */
#pragma once

#include <sqlite3.h>

#include "store.h"

/* The connection; NULL when not connected. */
sqlite3 *store_db(Store *s);

/* Records the SQLite error of rc for store_last_error() and returns it as -errno. */
int store_fail(Store *s, int rc, const char *what);

/* Sets store_last_error()'s text. */
void store_set_error(Store *s, const char *message);
