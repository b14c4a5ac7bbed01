// subgroups.wgsl — opens a module that uses subgroup operations (recurrent/subgroup.wgsl), first of
// all parts (an enable directive comes first; an f16 module has precision/f16.wgsl's after it).
// Such kernels need the device feature 'subgroups'.
enable subgroups;
