/* tests/unit/test_http.c - pgm_http_send against a tiny HTTP server forked
 * by the test on 127.0.0.1 (one process per connection, canned answers). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "host.h"
#include "cu_host.h"

static pid_t server_pid;
static int server_port;

/* answer - reads one request and answers it by its path:
 *   /ok    200, JSON body, a few headers
 *   /echo  200, body "METHOD <body>" and the X-Test request header echoed
 *   /hang  never answers (sleeps)
 *   else   404 */
static void answer(int fd)
{
	char req[65536], method[16] = "", path[256] = "", resp[70000], xtest[128] = "";
	size_t len = 0, body_at = 0, clen = 0;
	char *hdr_end = NULL, *p;
	ssize_t n;
	int m;

	while (len < sizeof(req) - 1) {
		n = read(fd, req + len, sizeof(req) - 1 - len);
		if (n <= 0)
			return;
		len += (size_t)n;
		req[len] = '\0';
		if (hdr_end == NULL && (hdr_end = strstr(req, "\r\n\r\n")) != NULL) {
			body_at = (size_t)(hdr_end - req) + 4;
			p = strcasestr(req, "\r\ncontent-length:");
			if (p && p < hdr_end)
				clen = (size_t)strtoul(p + 17, NULL, 10);
		}
		if (hdr_end && len >= body_at + clen)
			break;
	}
	sscanf(req, "%15s %255s", method, path);
	p = strcasestr(req, "\r\nx-test:");
	if (p && p < hdr_end)
		sscanf(p + 9, " %127[^\r]", xtest);
	if (strcmp(path, "/ok") == 0) {
		const char *body = "{\"ok\":true}";

		m = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
			     "X-Amzn-RequestId: req-1\r\nX-Dup: first\r\nX-Dup: second\r\n"
			     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
			     strlen(body), body);
	} else if (strcmp(path, "/echo") == 0) {
		m = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 201 Created\r\nX-Echo: %s\r\nContent-Length: %zu\r\n"
			     "Connection: close\r\n\r\n%s %.*s",
			     xtest, strlen(method) + 1 + clen, method, (int)clen, req + body_at);
	} else if (strcmp(path, "/hang") == 0) {
		sleep(10);
		return;
	} else {
		m = snprintf(resp, sizeof(resp),
			     "HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot found");
	}
	if (m > 0 && write(fd, resp, (size_t)m) < 0)
		return;
}

static void server_start(void)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
		perror("test_http: server");
		exit(2);
	}
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	server_port = ntohs(sa.sin_port);
	server_pid = fork();
	if (server_pid == 0) {
		setpgid(0, 0); /* server_stop kills the group */
		signal(SIGCHLD, SIG_IGN);
		for (;;) {
			int c = accept(fd, NULL, NULL);

			if (c < 0)
				continue;
			if (fork() == 0) {
				close(fd);
				answer(c);
				close(c);
				_exit(0);
			}
			close(c);
		}
	}
	close(fd);
}

static void server_stop(void)
{
	kill(-server_pid, SIGKILL);
	kill(server_pid, SIGKILL);
	waitpid(server_pid, NULL, 0);
}

static char *url(const char *path)
{
	static char buf[128];

	snprintf(buf, sizeof(buf), "http://127.0.0.1:%d%s", server_port, path);
	return buf;
}

static void test_ok(void)
{
	pgm_call *call = pgm_call_new("t", "http");
	pgm_http_request req = {.method = "GET", .url = url("/ok")};
	pgm_http_response resp;

	CU_ASSERT_EQUAL_FATAL(pgm_http_send(call, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 200);
	CU_ASSERT_STRING_EQUAL(resp.body, "{\"ok\":true}");
	CU_ASSERT_EQUAL(resp.body_len, 11);
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(resp.headers, "content-type")),
			       "application/json");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(resp.headers, "x-amzn-requestid")),
			       "req-1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(resp.headers, "x-dup")), "second");
	CU_ASSERT_PTR_NULL(json_object_get(resp.headers, "X-Amzn-RequestId"));
	pgm_http_response_free(&resp);

	req.url = url("/missing");
	CU_ASSERT_EQUAL_FATAL(pgm_http_send(call, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 404); /* a response, whatever its status */
	CU_ASSERT_STRING_EQUAL(resp.body, "not found");
	CU_ASSERT_FALSE(pgm_failed(call));
	pgm_http_response_free(&resp);
	pgm_call_free(call);
}

static void test_post(void)
{
	pgm_call *call = pgm_call_new("t", "http");
	const char *headers[] = {"X-Test: yes-it-is", "Content-Type: application/x-amz-json-1.1", NULL};
	const char body[] = "Action=Describe&Version=1";
	pgm_http_request req = {.method = "POST", .url = url("/echo"), .headers = headers,
				.body = body, .body_len = sizeof(body) - 1};
	pgm_http_response resp;

	CU_ASSERT_EQUAL_FATAL(pgm_http_send(call, &req, &resp), 0);
	CU_ASSERT_EQUAL(resp.status, 201);
	CU_ASSERT_STRING_EQUAL(resp.body, "POST Action=Describe&Version=1");
	CU_ASSERT_STRING_EQUAL(json_string_value(json_object_get(resp.headers, "x-echo")),
			       "yes-it-is");
	pgm_http_response_free(&resp);
	req.method = "DELETE";
	req.body = NULL;
	req.body_len = 0;
	CU_ASSERT_EQUAL_FATAL(pgm_http_send(call, &req, &resp), 0);
	CU_ASSERT_STRING_EQUAL(resp.body, "DELETE ");
	pgm_http_response_free(&resp);
	pgm_call_free(call);
}

static void test_failures(void)
{
	pgm_call *call = pgm_call_new("t", "http");
	pgm_http_request req = {.method = "GET"};
	pgm_http_response resp;
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	char refused[128];
	long long t0;
	int fd;

	/* a port nobody listens on */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	close(fd);
	snprintf(refused, sizeof(refused), "http://127.0.0.1:%d/x?X-Amz-Signature=abc", ntohs(sa.sin_port));
	req.url = refused;
	CU_ASSERT_EQUAL(pgm_http_send(call, &req, &resp), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "http.connect");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 1);
	CU_ASSERT_PTR_NULL(strstr(pgm_error_message(call), "X-Amz-Signature")); /* no query */
	CU_ASSERT_PTR_NOT_NULL(strstr(pgm_error_message(call), "GET http://127.0.0.1:"));
	pgm_http_response_free(&resp);
	pgm_clear_error(call);

	/* a server that never answers, with a short timeout */
	req.url = url("/hang");
	req.timeout_ms = 300;
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_http_send(call, &req, &resp), -1);
	CU_ASSERT(pgm_now_ms() - t0 < 2000);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "http.timeout");
	CU_ASSERT_EQUAL(pgm_error_retryable(call), 1);
	pgm_http_response_free(&resp);
	pgm_clear_error(call);

	/* the call's deadline caps the request's timeout */
	req.timeout_ms = 0;
	pgm_call_set_deadline_ms(call, pgm_now_ms() + 300);
	t0 = pgm_now_ms();
	CU_ASSERT_EQUAL(pgm_http_send(call, &req, &resp), -1);
	CU_ASSERT(pgm_now_ms() - t0 < 2000);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.timeout");
	pgm_http_response_free(&resp);
	pgm_clear_error(call);
	pgm_call_set_deadline_ms(call, 0);

	/* cancellation */
	pgm_cancel_request(SIGINT);
	CU_ASSERT_EQUAL(pgm_http_send(call, &req, &resp), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "pgmove.cancelled");
	pgm_cancel_reset();
	pgm_http_response_free(&resp);
	pgm_clear_error(call);

	/* not http(s) */
	req.url = "file:///etc/passwd";
	CU_ASSERT_EQUAL(pgm_http_send(call, &req, &resp), -1);
	CU_ASSERT_STRING_EQUAL(pgm_error_code(call), "http.url");
	pgm_http_response_free(&resp);
	pgm_call_free(call);
}

int main(void)
{
	static const cu_test tests[] = {
		{"GET: status, body, headers", test_ok},
		{"POST/DELETE: body and request headers", test_post},
		{"refused, timeout, deadline, cancel", test_failures},
		{NULL, NULL}};
	int rc;

	signal(SIGPIPE, SIG_IGN);
	server_start();
	rc = cu_run("http", tests);
	server_stop();
	return rc;
}
