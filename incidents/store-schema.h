/* The incident store's schema, as forward migrations. Internal to the store. */
#pragma once

#include "store.h"

/* The SQL that takes a database from user_version from_version to from_version + 1, or NULL
 * past the newest. */
const char *store_schema_migration(unsigned from_version);
