/* SPDX-License-Identifier: ISC */
/*
 * What a sealer may use of its client: the account's ids and identity,
 * signatures made with its key, and its own state records in the client
 * store, written through the transaction of what they belong to.
 */
#include <string.h>

#include <sodium.h>

#include "iris.h"
#include "client/client.h"

const char *
iris__seal_user(const struct iris_client *c, uint32_t *device)
{
	if (device != NULL)
		*device = c->device;
	return c->user;
}

const uint8_t *
iris__seal_identity(const struct iris_client *c)
{
	return c->pk;
}

int
iris__seal_sign(const struct iris_client *c, uint8_t sig[64],
    const void *msg, size_t len)
{
	if (c->acct == 0)
		return IRIS_ESTATE;
	return crypto_sign_detached(sig, NULL, msg, len, c->sk) == 0 ?
	    IRIS_OK : IRIS_ECRYPTO;
}

int
iris__seal_state_get(struct iris_client *c, const void *name, size_t nlen,
    struct iris_buf *out)
{
	uint8_t tag[IRIS_CS_TAG_LEN];

	if (c->acct == 0)
		return IRIS_ENOTFOUND;
	iris__cs_tag(c->cs, CS_D_STATE, name, nlen, tag);
	return iris__cs_state_get(c->cs, c->acct, tag, out);
}

int
iris__seal_state_put(struct iris_client *c, struct iris_cs_txn *txn,
    const void *name, size_t nlen, const void *data, size_t len)
{
	uint8_t tag[IRIS_CS_TAG_LEN];

	if (txn == NULL || c->acct == 0)
		return IRIS_ESTATE;	/* typing: nothing may be kept */
	iris__cs_tag(c->cs, CS_D_STATE, name, nlen, tag);
	return iris__cs_op_state_put(txn, c->acct, tag, data, len);
}

int
iris__seal_state_del(struct iris_client *c, struct iris_cs_txn *txn,
    const void *name, size_t nlen)
{
	uint8_t tag[IRIS_CS_TAG_LEN];

	if (txn == NULL || c->acct == 0)
		return IRIS_ESTATE;
	iris__cs_tag(c->cs, CS_D_STATE, name, nlen, tag);
	return iris__cs_op_state_del(txn, c->acct, tag);
}
