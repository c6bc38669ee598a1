/* A BPF program has no C library, but uapi headers written for userspace include one's
 * <sys/socket.h> (<linux/if.h> does, for struct sockaddr): this is what they take from it.
 * It comes after the program's own include directories, so a real one there wins. */
#ifndef __PYBPF_SYS_SOCKET_H__
#define __PYBPF_SYS_SOCKET_H__

#include <linux/socket.h>

typedef unsigned short sa_family_t;
typedef unsigned int socklen_t;

struct sockaddr {
    sa_family_t sa_family;
    char sa_data[14];
};

#endif /* __PYBPF_SYS_SOCKET_H__ */
