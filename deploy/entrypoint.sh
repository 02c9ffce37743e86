#!/bin/sh
# The container's entry point: every argument goes to linkpay-desk. Inside a container the
# services listen on all interfaces unless told otherwise; outside one, 127.0.0.1 stays the
# default. The data folder (key file, SQLite if used) is created private to the service user.
set -eu
: "${LINKPAY_CALLBACK_HOST:=0.0.0.0}"
: "${LINKPAY_DASHBOARD_HOST:=0.0.0.0}"
: "${LINKPAY_SANDBOX_HOST:=0.0.0.0}"
export LINKPAY_CALLBACK_HOST LINKPAY_DASHBOARD_HOST LINKPAY_SANDBOX_HOST
umask 077
if [ "$#" -eq 0 ]; then
    set -- callback-service
fi
exec linkpay-desk "$@"
