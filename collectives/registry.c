/* Every backend built in, registered once at start-up. Adding a backend:
 * its folder, its table, one line here. */
#include "coll.h"

extern const sf_comm_iface_t sf_comm_self;
extern const sf_comm_iface_t sf_comm_emulate;
extern const sf_comm_iface_t sf_comm_ucx;
#ifdef SF_HAVE_NCCL
extern const sf_comm_iface_t sf_comm_nccl;
#endif

void sf_comm_register_all(void)
{
    sf_comm_register(&sf_comm_self);
    sf_comm_register(&sf_comm_emulate);
    sf_comm_register(&sf_comm_ucx);
#ifdef SF_HAVE_NCCL
    sf_comm_register(&sf_comm_nccl);
#endif
}
