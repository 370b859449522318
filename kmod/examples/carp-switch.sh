#!/bin/sh
# Example action for devd-carp.conf: $1 = <vhid>@<interface>, $2 = MASTER|BACKUP.
# Starts or stops a service that must only run on the CARP master.
subsystem="$1"; state="$2"
case "$state" in
MASTER) logger -t carp "${subsystem} became MASTER"; service nginx onestart ;;
BACKUP) logger -t carp "${subsystem} became BACKUP"; service nginx onestop ;;
esac
