/* alert_inhibit.h - inhibit_rules: is an alert muted by a firing source alert? */
#ifndef ALERT_INHIBIT_H
#define ALERT_INHIBIT_H

#include <stdbool.h>
#include <stdint.h>

#include "alert.h"
#include "alert_am_config.h"

/* alert_inhibited: true when a firing alert of st matches the source side of
 * a rule whose target side matches a, with equal labels (absent = ""), and it
 * is not a both-sides alert inhibiting a both-sides alert. *by gets the
 * inhibiting fingerprint (may be NULL). Loop thread (reads st). */
bool alert_inhibited(const alert_am_config *c, const alert_store *st, const alert_alert *a,
                     int64_t now_ms, uint64_t *by);

#endif
