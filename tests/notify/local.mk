# tests/notify/local.mk - fragment of Makefile.am: the http and pagerduty
# plugins and `notify` against local fakes (tests/notify/fake_notify.py:
# PagerDuty Events API v2, webhook sink, flag service, SMTP sink).
TESTS += tests/notify/http.sh tests/notify/pagerduty.sh tests/notify/notify.sh
EXTRA_DIST += tests/notify/fake_notify.py tests/notify/lib.sh tests/notify/http.sh tests/notify/pagerduty.sh tests/notify/notify.sh \
	tests/notify/runbooks/notify.lua tests/notify/runbooks/events.lua \
	doc/plugins-notify.md
