"""The networks, every layer and model a paper names. ``layers`` (every layer a paper names: minibatch discrimination and stddev, virtual
batch norm, equalized learning rate, pixel norm, spectral norm, self-attention, conditional BN, ...)
and ``models`` (one file per family: ``mlp``, ``dcgan``, ``pggan``, ``mnist_ssl``, ``sngan``,
``autogan``)."""
