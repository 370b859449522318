/*-
 * SPDX-License-Identifier: BSD-2-Clause
 *
 * The kernel linker's machine-independent half (sys/kern/kern_linker.c and
 * kern_module.c) for one file the loader (src/loader.rs, link_elf_obj.c's half) has
 * mapped and relocated: module metadata checks, sysctl registration, sysinits in
 * (subsystem, order) order, module registration with MOD_LOAD; at unload MOD_QUIESCE,
 * MOD_UNLOAD, sysuninits in reverse order and sysctl removal. Afterwards, every check
 * that nothing of the module is left in the kernel.
 */
#include "kern.h"

struct module {
	const char	*name;
	modeventhand_t	 handler;
	void		*arg;
	struct hk_kld	*file;
	int		 version;
	int		 loaded;
};

#define	MAXMODULES	8
static struct module modules[MAXMODULES];

/* The "kernel" module's version (its MODULE_VERSION is __FreeBSD_version). */
int
hk_osreldate(void)
{

	return (__FreeBSD_version);
}

static struct hk_linker_set *
kld_set(struct hk_kld *kld, const char *name)
{
	int i;

	for (i = 0; i < kld->nsets; i++)
		if (strcmp(kld->sets[i].name, name) == 0)
			return (&kld->sets[i]);
	return (NULL);
}

static struct module *
module_find(const char *name)
{
	int i;

	for (i = 0; i < MAXMODULES; i++)
		if (modules[i].name != NULL && strcmp(modules[i].name, name) == 0)
			return (&modules[i]);
	return (NULL);
}

/* module_register_init: the SYSINIT behind DECLARE_MODULE. */
void
module_register_init(const void *arg)
{
	const moduledata_t *data = arg;
	struct module *mod = module_find(data->name);
	struct kcheck_state st;
	int error;

	if (mod == NULL) {
		printf("module_register_init: module_register(%s, %p) error %d\n",
		    data->name, data, ENOENT);
		return;
	}
	mod->handler = data->evhand;
	mod->arg = data->priv;
	kcheck_save(&st);
	error = mod->handler(mod, MOD_LOAD, mod->arg);
	kcheck_restore_check(&st, "MOD_LOAD");
	if (error != 0) {
		kcheck_save(&st);
		(void)mod->handler(mod, MOD_UNLOAD, mod->arg);
		kcheck_restore_check(&st, "MOD_UNLOAD after a failed MOD_LOAD");
		printf("module_register_init: MOD_LOAD (%s, %p, %p) error %d\n",
		    data->name, (void *)data->evhand, data->priv, error);
		mod->name = NULL;
		return;
	}
	mod->loaded = 1;
}

static int
sysinit_cmp(const struct sysinit *a, const struct sysinit *b)
{

	if (a->subsystem != b->subsystem)
		return (a->subsystem < b->subsystem ? -1 : 1);
	if (a->order != b->order)
		return (a->order < b->order ? -1 : 1);
	return (0);
}

/* Stable insertion sort of a copy of the set (the kernel sorts the set in place). */
static struct sysinit **
sysinit_sorted(struct hk_linker_set *set, int *np, int reverse)
{
	struct sysinit **start, **v;
	int n, i, j;

	*np = 0;
	if (set == NULL)
		return (NULL);
	start = (struct sysinit **)set->start;
	n = (int)((set->stop - set->start) / sizeof(struct sysinit *));
	v = malloc(sizeof(*v) * (n + 1), M_TEMP, M_WAITOK | M_ZERO);
	for (i = 0; i < n; i++) {
		struct sysinit *s = start[i];

		for (j = i; j > 0; j--) {
			int c = sysinit_cmp(v[j - 1], s);

			if (reverse ? c >= 0 : c <= 0)
				break;
			v[j] = v[j - 1];
		}
		v[j] = s;
	}
	*np = n;
	return (v);
}

static int
kld_check_metadata(struct hk_kld *kld, char *errbuf, unsigned long errlen,
    int *nmods, int do_register)
{
	struct hk_linker_set *set = kld_set(kld, "modmetadata_set");
	struct mod_metadata **mdp, *md;
	int n, i, found_module = 0;

	*nmods = 0;
	if (set == NULL) {
		snprintf(errbuf, errlen, "%s: no module metadata (not a module)",
		    kld->filename);
		return (ENOEXEC);
	}
	mdp = (struct mod_metadata **)set->start;
	n = (int)((set->stop - set->start) / sizeof(*mdp));
	for (i = 0; i < n; i++) {
		md = mdp[i];
		if (md->md_version != MDT_STRUCT_VERSION) {
			snprintf(errbuf, errlen, "%s: metadata version %d", kld->filename,
			    md->md_version);
			return (ENOEXEC);
		}
		switch (md->md_type) {
		case MDT_DEPEND: {
			const struct mod_depend *d = md->md_data;

			if (strcmp(md->md_cval, "kernel") == 0) {
				int v = hk_osreldate();

				if (v < d->md_ver_minimum || v > d->md_ver_maximum) {
					/* kern_linker.c: linker_load_dependencies */
					snprintf(errbuf, errlen, "KLD %s: depends on kernel - "
					    "not available or version mismatch", kld->filename);
					printf("%s\n", errbuf);
					printf("(required version is between %d and %d, kernel "
					    "is %d)\n", d->md_ver_minimum, d->md_ver_maximum, v);
					return (ENOEXEC);
				}
			} else if (module_find(md->md_cval) == NULL &&
			    strcmp(md->md_cval, kld->filename) != 0) {
				/* Self-dependencies are allowed; others must exist. */
				int self = 0, k;

				for (k = 0; k < n; k++)
					if (mdp[k]->md_type == MDT_MODULE &&
					    strcmp(mdp[k]->md_cval, md->md_cval) == 0)
						self = 1;
				if (!self) {
					snprintf(errbuf, errlen, "KLD %s: depends on %s - not "
					    "available or version mismatch", kld->filename,
					    md->md_cval);
					printf("%s\n", errbuf);
					return (ENOEXEC);
				}
			}
			break;
		}
		case MDT_MODULE:
			found_module = 1;
			if (module_find(md->md_cval) != NULL) {
				snprintf(errbuf, errlen, "module %s already present!",
				    md->md_cval);
				printf("%s\n", errbuf);
				return (EEXIST);
			}
			(*nmods)++;
			break;
		case MDT_VERSION:
		case MDT_PNP_INFO:
			break;
		default:
			snprintf(errbuf, errlen, "%s: unknown metadata type %d", kld->filename,
			    md->md_type);
			return (ENOEXEC);
		}
	}
	if (!found_module) {
		snprintf(errbuf, errlen, "%s: declares no module", kld->filename);
		return (ENOEXEC);
	}
	if (!do_register)
		return (0);
	/* Register the modules (module_register), MOD_LOAD comes with the sysinits. */
	for (i = 0; i < n; i++) {
		md = mdp[i];
		if (md->md_type == MDT_MODULE) {
			int k;

			for (k = 0; k < MAXMODULES; k++)
				if (modules[k].name == NULL)
					break;
			if (k == MAXMODULES)
				kfatal("too many modules");
			memset(&modules[k], 0, sizeof(modules[k]));
			modules[k].name = md->md_cval;
			modules[k].file = kld;
		} else if (md->md_type == MDT_VERSION) {
			struct module *m = module_find(md->md_cval);

			if (m)
				m->version = ((const struct mod_version *)md->md_data)->mv_version;
		}
	}
	return (0);
}

static void
kld_sysctls(struct hk_kld *kld, int reg)
{
	struct hk_linker_set *set = kld_set(kld, "sysctl_set");
	struct sysctl_oid **oidp;
	int n, i;

	if (set == NULL)
		return;
	oidp = (struct sysctl_oid **)set->start;
	n = (int)((set->stop - set->start) / sizeof(*oidp));
	if (reg) {
		for (i = 0; i < n; i++)
			sysctl_register_oid(oidp[i]);
	} else {
		for (i = n - 1; i >= 0; i--)
			sysctl_unregister_oid(oidp[i]);
	}
}

static void
kld_run_sysinits(struct hk_kld *kld, const char *setname, int reverse)
{
	struct sysinit **v;
	struct kcheck_state st;
	int n, i;

	v = sysinit_sorted(kld_set(kld, setname), &n, reverse);
	for (i = 0; i < n; i++) {
		kcheck_save(&st);
		v[i]->func(v[i]->udata);
		kcheck_restore_check(&st, reverse ? "sysuninit" : "sysinit");
	}
	free(v, M_TEMP);
}

static int
kld_nmodules_loaded(struct hk_kld *kld)
{
	int i, n = 0;

	for (i = 0; i < MAXMODULES; i++)
		if (modules[i].name != NULL && modules[i].file == kld && modules[i].loaded)
			n++;
	return (n);
}

/* linker_load_dependencies: the kernel version and the other dependencies. */
int
hk_kld_check_deps(struct hk_kld *kld, char *errbuf, unsigned long errlen)
{
	int nmods;

	errbuf[0] = '\0';
	return (kld_check_metadata(kld, errbuf, errlen, &nmods, 0));
}

int
hk_kld_link(struct hk_kld *kld, char *errbuf, unsigned long errlen)
{
	int error, nmods;

	errbuf[0] = '\0';
	kmod_base = kld->base;
	kmod_size = kld->size;
	kmod_text_start = kld->text_start;
	kmod_text_end = kld->text_end;
	error = kld_check_metadata(kld, errbuf, errlen, &nmods, 1);
	if (error != 0) {
		kmod_base = kmod_size = 0;
		return (error);
	}
	kld_sysctls(kld, 1);
	/* LINKER_PROPAGATE_VNETS: the relocated master copy into every VNET. */
	if (kld->vnet_size != 0)
		vnet_data_copy((void *)kld->vnet_start, (int)kld->vnet_size);
	kld_run_sysinits(kld, "sysinit_set", 0);
	/* linker_load_file: if every module of the file failed MOD_LOAD, unload it. */
	if (kld_nmodules_loaded(kld) == 0) {
		snprintf(errbuf, errlen, "%s: every module failed to load (MOD_LOAD)",
		    kld->filename);
		kld_sysctls(kld, 0);
		kld_run_sysinits(kld, "sysuninit_set", 1);
		kmod_base = kmod_size = 0;
		return (ENOEXEC);
	}
	return (0);
}

int
hk_kld_unlink(struct hk_kld *kld)
{
	struct kcheck_state st;
	int i, error;

	/* linker_file_unload: MOD_QUIESCE first (EOPNOTSUPP counts as success). */
	for (i = 0; i < MAXMODULES; i++) {
		struct module *m = &modules[i];

		if (m->name == NULL || m->file != kld || !m->loaded)
			continue;
		kcheck_save(&st);
		error = m->handler(m, MOD_QUIESCE, m->arg);
		kcheck_restore_check(&st, "MOD_QUIESCE");
		if (error != 0 && error != EOPNOTSUPP && error != EINVAL)
			return (error);
	}
	for (i = 0; i < MAXMODULES; i++) {
		struct module *m = &modules[i];

		if (m->name == NULL || m->file != kld || !m->loaded)
			continue;
		kcheck_save(&st);
		error = m->handler(m, MOD_UNLOAD, m->arg);
		kcheck_restore_check(&st, "MOD_UNLOAD");
		if (error != 0)
			return (error);
		m->loaded = 0;
		m->name = NULL;
	}
	/* Static sysctls go first, then the sysuninits in reverse order. */
	kld_sysctls(kld, 0);
	kld_run_sysinits(kld, "sysuninit_set", 1);
	return (0);
}

int	kcounters_live_from(unsigned long base, unsigned long size, int report);
int	ksysctls_in(unsigned long base, unsigned long size, int report);
int	kvnet_sysinits_in(unsigned long base, unsigned long size, int report);
int	khooks_check_cleared(int report);
int	kregistrations_in(unsigned long base, unsigned long size, int report);

void
hk_kld_gone(unsigned long base, unsigned long size)
{

	kcallouts_pending_in(base, size, 1);
	ktasks_pending_in(base, size, 1);
	keventhandlers_in(base, size, 1);
	kcounters_live_from(base, size, 1);
	ksysctls_in(base, size, 1);
	kvnet_sysinits_in(base, size, 1);
	khooks_check_cleared(1);
	kregistrations_in(base, size, 1);
	kmod_base = kmod_size = 0;
	kmod_text_start = kmod_text_end = 0;
}
