/* test_curl_outcome.c — the one table of libcurl errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "curl_outcome.h"

/* What a user is promised, whatever the transport. */
static void test_the_rules(void **state)
{
	static const struct {
		CURLcode cc;
		hd_status status;
		int fatal;
	} want[] = {
	    {CURLE_PEER_FAILED_VERIFICATION, HD_EPERMANENT, 1},
	    {CURLE_SSL_CACERT_BADFILE, HD_EPERMANENT, 1},
	    {CURLE_LOGIN_DENIED, HD_EPERMANENT, 1},
	    {CURLE_USE_SSL_FAILED, HD_EPERMANENT, 1},
	    {CURLE_URL_MALFORMAT, HD_EPERMANENT, 0},
	    /* once different in the two transports: a reply libcurl will
	     * not read is the server's trouble, not a configuration */
	    {CURLE_UNSUPPORTED_PROTOCOL, HD_ETRANSIENT, 0},
	    {CURLE_COULDNT_CONNECT, HD_ETRANSIENT, 0},
	    {CURLE_OPERATION_TIMEDOUT, HD_ETRANSIENT, 0},
	    {CURLE_GOT_NOTHING, HD_ETRANSIENT, 0},
	    {CURLE_ABORTED_BY_CALLBACK, HD_ETRANSIENT, 0},
	    /* not in the table: transient, and the reply decides */
	    {CURLE_FTP_WEIRD_PASV_REPLY, HD_ETRANSIENT, 0},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(want) / sizeof(*want); i++) {
		const hd__curl_rule *r = hd__curl_rule_of(want[i].cc);
		assert_non_null(r);
		assert_int_equal(r->status, want[i].status);
		assert_int_equal((r->flags & HD__CURL_FATAL) != 0,
				 want[i].fatal);
	}
	assert_true(hd__curl_rule_of(CURLE_FTP_WEIRD_PASV_REPLY)->flags &
		    HD__CURL_BY_REPLY);
	assert_true(hd__curl_rule_of(CURLE_PEER_FAILED_VERIFICATION)->flags &
		    HD__CURL_TLS_PEER);
}

/* Every code has one rule, with words or the TLS peer's message. */
static void test_one_rule_a_code(void **state)
{
	(void)state;
	for (int cc = 1; cc < CURL_LAST; cc++) {
		const hd__curl_rule *r = hd__curl_rule_of((CURLcode)cc);
		assert_true(r->code == (CURLcode)cc || r->code == CURLE_OK);
		if (r->code == (CURLcode)cc)
			assert_true(r->what || (r->flags & HD__CURL_TLS_PEER));
	}
}

/* The one reconnect rule and the one "unreachable" rule. */
static void test_reach_and_reconnect(void **state)
{
	/* cc, reused, heard, sent, body */
	hd__curl_attempt dead_kept = {CURLE_GOT_NOTHING, 1, 0, 1, 0};
	hd__curl_attempt dead_after_body = {CURLE_RECV_ERROR, 1, 0, 1, 1};
	hd__curl_attempt dead_after_reply = {CURLE_RECV_ERROR, 1, 1, 1, 0};
	hd__curl_attempt dead_new = {CURLE_GOT_NOTHING, 0, 0, 0, 0};
	hd__curl_attempt silent_new = {CURLE_OPERATION_TIMEDOUT, 0, 0, 0, 0};
	hd__curl_attempt greeted = {CURLE_OPERATION_TIMEDOUT, 0, 1, 0, 0};
	hd__curl_attempt tls_new = {CURLE_SSL_CONNECT_ERROR, 0, 0, 0, 0};
	hd__curl_attempt tls_kept = {CURLE_SSL_CONNECT_ERROR, 1, 0, 0, 0};
	hd__curl_attempt refused = {CURLE_COULDNT_CONNECT, 0, 0, 0, 0};
	hd__curl_attempt no_name = {CURLE_COULDNT_RESOLVE_HOST, 0, 0, 0, 0};

	(void)state;
	assert_true(hd__curl_reconnect(&dead_kept));
	assert_false(hd__curl_reconnect(&dead_after_body));
	assert_false(hd__curl_reconnect(&dead_after_reply));
	assert_false(hd__curl_reconnect(&dead_new));
	assert_int_equal(hd__curl_unreachable(&dead_kept), HD_REACHED);
	assert_int_equal(hd__curl_unreachable(&dead_new), HD_UNREACH_CONNECT);
	assert_int_equal(hd__curl_unreachable(&silent_new), HD_UNREACH_CONNECT);
	assert_int_equal(hd__curl_unreachable(&greeted), HD_REACHED);
	assert_int_equal(hd__curl_unreachable(&tls_new), HD_UNREACH_TLS);
	assert_int_equal(hd__curl_unreachable(&tls_kept), HD_REACHED);
	assert_int_equal(hd__curl_unreachable(&refused), HD_UNREACH_CONNECT);
	assert_int_equal(hd__curl_unreachable(&no_name), HD_UNREACH_RESOLVE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_the_rules),
	    cmocka_unit_test(test_one_rule_a_code),
	    cmocka_unit_test(test_reach_and_reconnect),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
