/* SPDX-License-Identifier: ISC */
/* Error code texts and names, and the runtime version. */
#include "iris.h"

IRIS_API const char *
iris_strerror(int code)
{
	switch (code) {
#define IRIS__ERRNO_TEXT(name, num, msg)				\
	case (num):							\
		return (msg);
	IRIS_ERRNO_MAP(IRIS__ERRNO_TEXT)
#undef IRIS__ERRNO_TEXT
	default:
		return "unknown error";
	}
}

IRIS_API const char *
iris_errname(int code)
{
	switch (code) {
#define IRIS__ERRNO_NAME(name, num, msg)				\
	case (num):							\
		return #name;
	IRIS_ERRNO_MAP(IRIS__ERRNO_NAME)
#undef IRIS__ERRNO_NAME
	default:
		return "IRIS_E?";
	}
}

IRIS_API unsigned
iris_version_number(void)
{
	return IRIS_VERSION_NUMBER;
}

IRIS_API const char *
iris_version_string(void)
{
	return IRIS_VERSION_STRING;
}
