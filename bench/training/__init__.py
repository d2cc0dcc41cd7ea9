"""Training: the seed's network, the fast single-network loop, the batched trainer (K networks
in the same kernels), devices, memory sizing, machine facts, and the seed's own loop for
comparison. Everything here imports torch; import the module you need."""
