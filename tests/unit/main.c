/* SPDX-License-Identifier: ISC */
/*
 * Runs every unit suite. Select with CK_RUN_SUITE / CK_RUN_CASE; the exit
 * status is non-zero when any test fails.
 */
#include <stdio.h>
#include <stdlib.h>

#include "suites.h"

int
main(void)
{
	Suite *(*const suites[])(void) = {
		suite_error, suite_alloc, suite_config, suite_log, suite_hlc,
		suite_bucket, suite_uuid, suite_frame, suite_msg, suite_wire_hot,
		suite_oom, suite_worker, suite_store, suite_store_ckpt,
		suite_store_wcache, suite_net, suite_netflight,
		suite_hmap, suite_bus, suite_cstore, suite_client, suite_e2ee,
		suite_e2ee_session, suite_durability,
	};
	SRunner *sr;
	size_t i;
	int failed;

	sr = srunner_create(NULL);
	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
