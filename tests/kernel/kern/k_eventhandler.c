/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * eventhandler(9), as sys/kern/subr_eventhandler.c: lists by name, entries ordered by
 * priority (lower first, FIFO among equals), eventhandler_find_list returning the list
 * LOCKED, eventhandler_deregister unlocking it and waiting for running invocations, a
 * NULL tag removing every entry.
 */
#include "kern.h"

static TAILQ_HEAD(, eventhandler_list) eventhandler_lists =
    TAILQ_HEAD_INITIALIZER(eventhandler_lists);
static struct mtx eventhandler_mutex;

/* Every entry is allocated with room for the function pointer after it. */
struct kee {
	struct eventhandler_entry ee;
	void	*eh_func;
};

static struct eventhandler_list *
eventhandler_find_or_create(const char *name)
{
	struct eventhandler_list *list;

	mtx_lock(&eventhandler_mutex);
	TAILQ_FOREACH(list, &eventhandler_lists, el_link)
		if (strcmp(list->el_name, name) == 0)
			break;
	if (list == NULL) {
		size_t n = strlen(name) + 1;

		mtx_unlock(&eventhandler_mutex);
		list = malloc(sizeof(*list) + n, M_EVENTHANDLER, M_WAITOK | M_ZERO);
		list->el_name = (char *)(list + 1);
		memcpy(list->el_name, name, n);
		mtx_init(&list->el_lock, "eventhandler list", NULL, MTX_DEF | MTX_NEW);
		TAILQ_INIT(&list->el_entries);
		mtx_lock(&eventhandler_mutex);
		TAILQ_INSERT_HEAD(&eventhandler_lists, list, el_link);
	}
	mtx_unlock(&eventhandler_mutex);
	return (list);
}

struct eventhandler_list *
eventhandler_create_list(const char *name)
{

	return (eventhandler_find_or_create(name));
}

eventhandler_tag
eventhandler_register(struct eventhandler_list *list, const char *name, void *func,
    void *arg, int priority)
{
	struct kee *e;
	struct eventhandler_entry *ep;

	if (priority == EHE_DEAD_PRIORITY)
		kfail("eventhandler", "eventhandler_register with the dead priority");
	ksleep_check("eventhandler_register");
	if (list == NULL)
		list = eventhandler_find_or_create(name);
	e = malloc(sizeof(*e), M_EVENTHANDLER, M_WAITOK | M_ZERO);
	e->ee.ee_priority = priority;
	e->ee.ee_arg = arg;
	e->eh_func = func;
	EHL_LOCK(list);
	TAILQ_FOREACH(ep, &list->el_entries, ee_link)
		if (ep->ee_priority != EHE_DEAD_PRIORITY && priority < ep->ee_priority)
			break;
	if (ep != NULL)
		TAILQ_INSERT_BEFORE(ep, &e->ee, ee_link);
	else
		TAILQ_INSERT_TAIL(&list->el_entries, &e->ee, ee_link);
	EHL_UNLOCK(list);
	return (&e->ee);
}

struct eventhandler_list *
eventhandler_find_list(const char *name)
{
	struct eventhandler_list *list;

	mtx_lock(&eventhandler_mutex);
	TAILQ_FOREACH(list, &eventhandler_lists, el_link)
		if (strcmp(list->el_name, name) == 0)
			break;
	mtx_unlock(&eventhandler_mutex);
	if (list != NULL)
		EHL_LOCK(list);
	return (list);
}

void
eventhandler_prune_list(struct eventhandler_list *list)
{
	struct eventhandler_entry *ep, *en;
	int pruned = 0;

	TAILQ_FOREACH_SAFE(ep, &list->el_entries, ee_link, en) {
		if (ep->ee_priority == EHE_DEAD_PRIORITY) {
			TAILQ_REMOVE(&list->el_entries, ep, ee_link);
			free(ep, M_EVENTHANDLER);
			pruned++;
		}
	}
	if (pruned > 0)
		kwakeup(&list->el_runcount);
}

static void
eventhandler_deregister_internal(struct eventhandler_list *list, eventhandler_tag tag,
    int wait)
{
	struct eventhandler_entry *ep = tag, *en;
	int found = 0;

	if (tag != NULL) {
		TAILQ_FOREACH(en, &list->el_entries, ee_link)
			if (en == ep)
				found = 1;
		if (!found)
			kfail("eventhandler", "eventhandler_deregister of tag %p not on list %s",
			    tag, list->el_name);
		else if (list->el_runcount == 0) {
			TAILQ_REMOVE(&list->el_entries, ep, ee_link);
			free(ep, M_EVENTHANDLER);
		} else
			ep->ee_priority = EHE_DEAD_PRIORITY;
	} else {
		TAILQ_FOREACH_SAFE(ep, &list->el_entries, ee_link, en) {
			if (list->el_runcount == 0) {
				TAILQ_REMOVE(&list->el_entries, ep, ee_link);
				free(ep, M_EVENTHANDLER);
			} else
				ep->ee_priority = EHE_DEAD_PRIORITY;
		}
	}
	while (wait && list->el_runcount > 0) {
		EHL_UNLOCK(list);
		ksleep(&list->el_runcount, 0, "evhrm");
		EHL_LOCK(list);
	}
	EHL_UNLOCK(list);
}

void
eventhandler_deregister(struct eventhandler_list *list, eventhandler_tag tag)
{

	if (!klock_held_by_me(&list->el_lock.lock_object))
		kfail("eventhandler", "eventhandler_deregister without the list lock "
		    "(use eventhandler_find_list)");
	eventhandler_deregister_internal(list, tag, 1);
}

void
eventhandler_deregister_nowait(struct eventhandler_list *list, eventhandler_tag tag)
{

	eventhandler_deregister_internal(list, tag, 0);
}

/* Entries whose function or argument lies in [base, base+size). */
int
keventhandlers_in(unsigned long base, unsigned long size, int report)
{
	struct eventhandler_list *list;
	struct eventhandler_entry *ep;
	int n = 0;

	TAILQ_FOREACH(list, &eventhandler_lists, el_link) {
		TAILQ_FOREACH(ep, &list->el_entries, ee_link) {
			unsigned long f = (unsigned long)((struct kee *)ep)->eh_func;

			if (ep->ee_priority == EHE_DEAD_PRIORITY)
				continue;
			if (f >= base && f < base + size) {
				n++;
				if (report)
					kfail("eventhandler", "eventhandler on \"%s\" still "
					    "registered after unload", list->el_name);
			}
		}
	}
	return (n);
}

void
keventhandler_boot(void)
{

	mtx_init(&eventhandler_mutex, "eventhandler", NULL, MTX_DEF);
}
