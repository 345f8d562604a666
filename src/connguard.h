/* connguard: a deadline for each request to arrive whole, and a watch for
 * the client hanging up.
 *
 * libmicrohttpd's connection timeout is an idle timeout: a client that sends
 * one byte every few seconds never trips it and holds its connection, its
 * buffer and its slot forever (slowloris).  connguard gives every connection
 * limits.request_timeout_s from the moment it opens, or from the end of its
 * previous request, until its current request (headers and body) has fully
 * arrived; a connection that misses the deadline is shut down.  The server
 * installs connguard_notify as MHD's connection notification callback.
 *
 * MHD does not watch a suspended connection, so it cannot see its client
 * leave; connguard_on_hangup() does, at no cost per request (connguard.c). */
#ifndef TIERGATE_CONNGUARD_H
#define TIERGATE_CONNGUARD_H

#include <microhttpd.h>
#include <stdbool.h>

struct evloop;

typedef struct connguard connguard;

connguard *connguard_new(struct evloop *loop, int timeout_s);
/* Call after MHD_stop_daemon (which reports every connection closed). */
void connguard_free(connguard *g);
/* MHD_OPTION_NOTIFY_CONNECTION callback; cls is the connguard. */
void connguard_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code);
/* The request on conn has arrived whole: its deadline stops. */
void connguard_received(struct MHD_Connection *conn);
/* The request on conn is over: the next one's deadline starts. */
void connguard_next(struct MHD_Connection *conn);
/* Calls fn(ud) once, from the loop, when conn's client hangs up or has hung
 * up already; until connguard_off_hangup().  False when conn has no watch
 * (no memory for it): its hang-up then goes unnoticed while suspended. */
bool connguard_on_hangup(struct MHD_Connection *conn, void (*fn)(void *ud), void *ud);
void connguard_off_hangup(struct MHD_Connection *conn);

#endif
