/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for src/hashtab.c, the one open-addressing table behind the
 * flow, socket, mark and group tables: growth at half load, collisions,
 * compaction, reset, iteration and many keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashtab.h"

/* The key is not first and the used flag is in the middle, as in the real entries. */
struct item {
	unsigned value;
	bool used;
	unsigned char pad[3];
	uint64_t key;
	uint64_t payload;
};

static size_t mix(const void *key)
{
	uint64_t k;

	memcpy(&k, key, sizeof(k));
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	return (size_t)(k ^ (k >> 33));
}

/* Every key in one probe chain: only linear probing keeps them apart. */
static size_t same(const void *key)
{
	(void)key;
	return 7;
}

/* Every key starts at the last slot: a chain must wrap around to slot 0. */
static size_t last(const void *key)
{
	(void)key;
	return SIZE_MAX;
}

static const struct hashtab_spec item_spec = {
	.size = sizeof(struct item),
	.key_off = offsetof(struct item, key),
	.key_size = sizeof(uint64_t),
	.used_off = offsetof(struct item, used),
	.hash = mix,
};

static const struct hashtab_spec collide_spec = {
	.size = sizeof(struct item),
	.key_off = offsetof(struct item, key),
	.key_size = sizeof(uint64_t),
	.used_off = offsetof(struct item, used),
	.hash = same,
};

static const struct hashtab_spec wrap_spec = {
	.size = sizeof(struct item),
	.key_off = offsetof(struct item, key),
	.key_size = sizeof(uint64_t),
	.used_off = offsetof(struct item, used),
	.hash = last,
};

static struct item *get(struct hashtab *t, uint64_t k)
{
	struct item *e = hashtab_get(t, &k);

	assert_non_null(e);
	assert_true(e->used);
	assert_int_equal(e->key, k);
	return e;
}

static struct item *find(const struct hashtab *t, uint64_t k)
{
	return hashtab_find(t, &k);
}

/* Walks t with hashtab_next: the number of entries, each seen once. */
static size_t walk(const struct hashtab *t)
{
	size_t pos = 0, n = 0;
	struct item *e;

	while ((e = hashtab_next(t, &pos))) {
		assert_true(e->used);
		n++;
	}
	assert_int_equal(pos, t->cap);
	assert_int_equal(n, t->count);
	return n;
}

static void test_pow2(void **state)
{
	(void)state;
	assert_int_equal(pow2_at_least(0), 16);
	assert_int_equal(pow2_at_least(16), 16);
	assert_int_equal(pow2_at_least(17), 32);
	assert_int_equal(pow2_at_least(1000), 1024);
}

/* A new entry is zeroed but for its key; a second get finds the same one. */
static void test_get_find(void **state)
{
	struct hashtab t;
	struct item *a;

	(void)state;
	assert_int_equal(hashtab_init(&t, &item_spec, 4), 0);
	assert_int_equal(t.cap, 16);
	assert_null(find(&t, 1));
	a = get(&t, 1);
	assert_int_equal(a->value, 0);
	assert_int_equal(a->payload, 0);
	a->value = 11;
	assert_ptr_equal(get(&t, 1), a);
	assert_ptr_equal(find(&t, 1), a);
	assert_int_equal(find(&t, 1)->value, 11);
	assert_null(find(&t, 2));
	assert_int_equal(t.count, 1);
	hashtab_free(&t);
	assert_null(t.slots);
	assert_int_equal(t.count, 0);
}

/* Grows (doubles) only when an add would pass half load; values move along. */
static void test_growth_at_half_load(void **state)
{
	struct hashtab t;

	(void)state;
	assert_int_equal(hashtab_init(&t, &item_spec, 8), 0);
	assert_int_equal(t.cap, 16);
	for (uint64_t k = 1; k <= 8; k++)
		get(&t, k)->value = (unsigned)k * 3;
	assert_int_equal(t.cap, 16);	/* 8 of 16: still half */
	get(&t, 5);			/* found: no growth */
	assert_int_equal(t.cap, 16);
	get(&t, 9);
	assert_int_equal(t.cap, 32);
	assert_int_equal(t.count, 9);
	for (uint64_t k = 1; k <= 8; k++)
		assert_int_equal(find(&t, k)->value, k * 3);
	assert_int_equal(walk(&t), 9);
	hashtab_free(&t);
}

/* All keys in one chain, across the end of the slots and through growth. */
static void test_collisions(void **state)
{
	struct hashtab t;

	(void)state;
	assert_int_equal(hashtab_init(&t, &collide_spec, 0), 0);
	for (uint64_t k = 100; k < 140; k++)
		get(&t, k)->value = (unsigned)k;
	assert_int_equal(t.count, 40);
	assert_int_equal(t.cap, 128);
	for (uint64_t k = 100; k < 140; k++)
		assert_int_equal(find(&t, k)->value, k);
	assert_null(find(&t, 99));
	assert_null(find(&t, 140));
	assert_int_equal(walk(&t), 40);
	hashtab_free(&t);
}

/* Linear probing past the last slot goes on at slot 0. */
static void test_wraps_around(void **state)
{
	struct hashtab t;

	(void)state;
	assert_int_equal(hashtab_init(&t, &wrap_spec, 0), 0);
	for (uint64_t k = 1; k <= 3; k++)
		get(&t, k);
	assert_int_equal(((struct item *)hashtab_slot(&t, 15))->key, 1);
	assert_int_equal(((struct item *)hashtab_slot(&t, 0))->key, 2);
	assert_int_equal(((struct item *)hashtab_slot(&t, 1))->key, 3);
	for (uint64_t k = 1; k <= 3; k++)
		assert_int_equal(find(&t, k)->key, k);
	assert_null(find(&t, 4));
	hashtab_free(&t);
}

static bool even(const void *e, void *arg)
{
	(void)arg;
	return ((const struct item *)e)->key % 2 == 0;
}

static bool below(const void *e, void *limit)
{
	return ((const struct item *)e)->key < *(const uint64_t *)limit;
}

/* Compaction drops what keep rejects, keeps values, and then finds the rest. */
static void test_compact(void **state)
{
	struct hashtab t;
	unsigned char *before;
	uint64_t limit = 1000;

	(void)state;
	assert_int_equal(hashtab_init(&t, &collide_spec, 0), 0);
	for (uint64_t k = 0; k < 20; k++)
		get(&t, k)->value = (unsigned)k + 1;
	/* every entry stays: nothing is rebuilt */
	before = t.slots;
	assert_int_equal(hashtab_compact(&t, below, &limit), 0);
	assert_ptr_equal(t.slots, before);
	assert_int_equal(t.count, 20);

	assert_int_equal(hashtab_compact(&t, even, NULL), 0);
	assert_int_equal(t.count, 10);
	assert_int_equal(t.cap, 64);
	for (uint64_t k = 0; k < 20; k++) {
		if (k % 2)
			assert_null(find(&t, k));
		else
			assert_int_equal(find(&t, k)->value, k + 1);
	}
	assert_int_equal(walk(&t), 10);
	limit = 0;
	assert_int_equal(hashtab_compact(&t, below, &limit), 0);
	assert_int_equal(t.count, 0);
	assert_null(find(&t, 0));
	hashtab_free(&t);
}

/* A growth drops the entries the table's keep rejects. */
static void test_growth_drops_stale(void **state)
{
	struct hashtab t;
	uint64_t limit = 4;

	(void)state;
	assert_int_equal(hashtab_init(&t, &item_spec, 8), 0);
	t.keep = below;
	t.keep_arg = &limit;
	for (uint64_t k = 0; k < 8; k++)
		get(&t, k);
	assert_int_equal(t.count, 8);
	get(&t, 8);			/* grows: 4..7 go, 8 is added */
	assert_int_equal(t.cap, 32);
	assert_int_equal(t.count, 5);
	for (uint64_t k = 0; k < 4; k++)
		assert_non_null(find(&t, k));
	for (uint64_t k = 4; k < 8; k++)
		assert_null(find(&t, k));
	assert_non_null(find(&t, 8));
	hashtab_free(&t);
}

/* Reset empties the table and keeps the larger capacity it had. */
static void test_reset(void **state)
{
	struct hashtab t;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.spec = &item_spec;
	assert_null(find(&t, 1));
	assert_int_equal(hashtab_reset(&t, 100), 0);
	assert_int_equal(t.cap, 256);
	for (uint64_t k = 0; k < 100; k++)
		get(&t, k);
	assert_int_equal(t.cap, 256);
	assert_int_equal(hashtab_reset(&t, 3), 0);
	assert_int_equal(t.cap, 256);
	assert_int_equal(t.count, 0);
	assert_int_equal(walk(&t), 0);
	for (uint64_t k = 0; k < 100; k++)
		assert_null(find(&t, k));
	assert_int_equal(get(&t, 5)->value, 0);
	assert_int_equal(hashtab_reset(&t, 1000), 0);
	assert_int_equal(t.cap, 2048);
	assert_null(find(&t, 5));
	hashtab_free(&t);
}

/* 200,000 keys: many growths, every value where it was put. */
static void test_many_keys(void **state)
{
	enum { N = 200000 };
	struct hashtab t;

	(void)state;
	assert_int_equal(hashtab_init(&t, &item_spec, 16), 0);
	for (uint64_t k = 0; k < N; k++)
		get(&t, k * 4096)->payload = k;	/* shared low bits, like socket addresses */
	assert_int_equal(t.count, N);
	assert_int_equal(t.cap, 524288);
	for (uint64_t k = 0; k < N; k++)
		assert_int_equal(find(&t, k * 4096)->payload, k);
	assert_null(find(&t, 1));
	assert_int_equal(walk(&t), N);
	hashtab_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pow2),
		cmocka_unit_test(test_get_find),
		cmocka_unit_test(test_growth_at_half_load),
		cmocka_unit_test(test_collisions),
		cmocka_unit_test(test_wraps_around),
		cmocka_unit_test(test_compact),
		cmocka_unit_test(test_growth_drops_stale),
		cmocka_unit_test(test_reset),
		cmocka_unit_test(test_many_keys),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
