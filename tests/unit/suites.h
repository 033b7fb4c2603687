/* SPDX-License-Identifier: ISC */
/* The Check suites of the unit test binary, one per lib/ module. */
#ifndef IRIS_TESTS_SUITES_H
#define IRIS_TESTS_SUITES_H

#include <check.h>

Suite	*suite_error(void);
Suite	*suite_alloc(void);
Suite	*suite_config(void);
Suite	*suite_log(void);
Suite	*suite_hlc(void);
Suite	*suite_bucket(void);
Suite	*suite_uuid(void);
Suite	*suite_frame(void);
Suite	*suite_msg(void);
Suite	*suite_wire_hot(void);
Suite	*suite_oom(void);
Suite	*suite_worker(void);
Suite	*suite_store(void);
Suite	*suite_store_ckpt(void);
Suite	*suite_store_wcache(void);
Suite	*suite_net(void);
Suite	*suite_netflight(void);
Suite	*suite_hmap(void);
Suite	*suite_bus(void);
Suite	*suite_cstore(void);
Suite	*suite_client(void);
Suite	*suite_e2ee(void);
Suite	*suite_e2ee_session(void);
Suite	*suite_durability(void);

/* Per-test timeout in seconds, scaled by CK_TIMEOUT_MULTIPLIER by Check. */
#define IRIS_TEST_TIMEOUT	30

#endif
