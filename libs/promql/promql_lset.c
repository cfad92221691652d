/* promql_lset.c - what a range evaluation learns about label arrays that outlive a step (a
 * selection's series labels, their name-less tails, arrays derived from those): their hash,
 * their matching signature, the array derived from them and their series in the result,
 * remembered by address so that each is computed once per query instead of once per step. */
#include "promql_int.h"

#include <string.h>

/* A registered array. Identity is (address, length): the query's arena never reuses
 * memory, and label arrays are never written after they are built. Entries do not move
 * (the table holds pointers), so they can point at each other. One slot per kind of
 * fact: operations rarely share inputs, and a miss only costs a recomputation. */
typedef struct lset_ent {
    const osp_label *l;
    size_t n;
    uint64_t hash;
    bool has_hash;
    int out;             /* index of its series in the range result + 1; 0: unknown */
    const void *sig_tag; /* the operation sig belongs to */
    uint64_t sig;
    const void *dtag; /* the operation that derived *der from this array and (b, nb) */
    const osp_label *b;
    size_t nb;
    struct lset_ent *der;
    struct lset_ent *noname; /* the array without __name__ */
} lset_ent;

struct lset_reg {
    osp_arena *a;
    lset_ent **tab; /* open addressing; NULL: free */
    size_t cap, n;
    lset_ent *last; /* the last entry found: lookups come in pairs */
};

static size_t
slot_of(const osp_label *l, size_t n, size_t cap)
{
    uint64_t x = (uint64_t)(uintptr_t)l * 0x9e3779b97f4a7c15ULL + n;
    x ^= x >> 29;
    return (size_t)x & (cap - 1);
}

lset_reg *
lset_reg_new(osp_arena *a)
{
    lset_reg *r = osp_arena_calloc(a, sizeof(*r));
    r->a = a;
    return r;
}

static lset_ent *
find(lset_reg *r, const osp_label *l, size_t n)
{
    if (r == NULL || r->n == 0)
        return NULL;
    if (r->last != NULL && r->last->l == l && r->last->n == n)
        return r->last;
    for (size_t i = slot_of(l, n, r->cap);; i = (i + 1) & (r->cap - 1)) {
        lset_ent *e = r->tab[i];
        if (e == NULL)
            return NULL;
        if (e->l == l && e->n == n)
            return r->last = e;
    }
}

static void
grow(lset_reg *r)
{
    lset_ent **old = r->tab;
    size_t ocap = r->cap;
    r->cap = ocap ? ocap * 2 : 1024;
    r->tab = osp_arena_calloc(r->a, r->cap * sizeof(*r->tab));
    for (size_t k = 0; k < ocap; k++) {
        if (old[k] == NULL)
            continue;
        size_t i = slot_of(old[k]->l, old[k]->n, r->cap);
        while (r->tab[i] != NULL)
            i = (i + 1) & (r->cap - 1);
        r->tab[i] = old[k];
    }
}

static lset_ent *add(lset_reg *r, const osp_label *l, size_t n);

/* keep: a registered copy of l[0..n) in the registry's arena. */
static lset_ent *
keep(lset_reg *r, const osp_label *l, size_t n)
{
    osp_label *copy = osp_arena_alloc(r->a, (n ? n : 1) * sizeof(*copy));
    if (n)
        memcpy(copy, l, n * sizeof(*copy));
    return add(r, copy, n);
}

static lset_ent *
add(lset_reg *r, const osp_label *l, size_t n)
{
    if ((r->n + 1) * 2 > r->cap)
        grow(r);
    size_t i = slot_of(l, n, r->cap);
    for (; r->tab[i] != NULL; i = (i + 1) & (r->cap - 1))
        if (r->tab[i]->l == l && r->tab[i]->n == n)
            return r->tab[i];
    lset_ent *e = osp_arena_calloc(r->a, sizeof(*e));
    e->l = l;
    e->n = n;
    r->tab[i] = e;
    r->n++;
    return e;
}

void
lset_register(lset_reg *r, const osp_label *l, size_t n)
{
    add(r, l, n);
}

static uint64_t
ent_hash(lset_ent *e)
{
    if (!e->has_hash) {
        e->hash = lbl_hash(e->l, e->n);
        e->has_hash = true;
    }
    return e->hash;
}

uint64_t
lset_hash(lset_reg *r, const osp_label *l, size_t n)
{
    lset_ent *e = find(r, l, n);
    return e ? ent_hash(e) : lbl_hash(l, n);
}

uint64_t
lset_sig(lset_reg *r, const void *tag, const osp_label *l, size_t n, const char **names, size_t nn,
         bool on)
{
    lset_ent *e = find(r, l, n);
    if (e == NULL)
        return lbl_sig(l, n, names, nn, on);
    if (e->sig_tag != tag) {
        e->sig = lbl_sig(l, n, names, nn, on);
        e->sig_tag = tag;
    }
    return e->sig;
}

bool
lset_memo_get(lset_reg *r, const void *tag, const osp_label *a, size_t na, const osp_label *b,
              size_t nb, osp_label **out, size_t *nout)
{
    lset_ent *e = find(r, a, na);
    if (e == NULL || e->dtag != tag || e->b != b || e->nb != nb)
        return false;
    *out = (osp_label *)e->der->l;
    *nout = e->der->n;
    r->last = e->der; /* its hash is asked for next */
    return true;
}

void
lset_memo_put(lset_reg *r, const void *tag, const osp_label *a, size_t na, const osp_label *b,
              size_t nb, osp_label **l, size_t *n)
{
    lset_ent *e = find(r, a, na);
    if (e == NULL || e->dtag != NULL || (b != NULL && find(r, b, nb) == NULL))
        return;
    e->dtag = tag;
    e->b = b;
    e->nb = nb;
    e->der = keep(r, *l, *n);
    *l = (osp_label *)e->der->l;
    r->last = e->der;
}

void
lset_drop_name(lset_reg *r, osp_arena *a, osp_label **l, size_t *n)
{
    lset_ent *e = find(r, *l, *n);
    if (e == NULL) {
        lbl_drop_name(a, l, n);
        return;
    }
    if (e->noname == NULL) {
        osp_label *dl = *l;
        size_t dn = *n;
        lbl_drop_name(a, &dl, &dn);
        /* the tail (or l itself) is registered memory; a rebuilt array is copied */
        e->noname = dl == e->l || dl == e->l + 1 ? add(r, dl, dn) : keep(r, dl, dn);
    }
    *l = (osp_label *)e->noname->l;
    *n = e->noname->n;
    r->last = e->noname; /* what the caller's operator asks about next */
}

int *
lset_out(lset_reg *r, const osp_label *l, size_t n, void **hint)
{
    lset_ent *e = *hint;
    if (e == NULL || e->l != l || e->n != n)
        *hint = e = find(r, l, n);
    return e ? &e->out : NULL;
}
