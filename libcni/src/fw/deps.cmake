# Libraries of the firewall layer (included by libcni/CMakeLists.txt): libip4tc/libip6tc for the
# legacy backend. Conntrack cleanup and the nf_tables queries speak netlink directly (nfnl.h), so
# no library is loaded for them. libnftables is loaded with dlopen only when the nftables backend
# is used, so iptables users don't pay for its dependency tree at start-up; its header comes
# from libnftables-dev.
pkg_check_modules(FW_IPTC REQUIRED IMPORTED_TARGET libip4tc libip6tc)
pkg_check_modules(FW_NFT REQUIRED libnftables)
target_include_directories(cni_fw PRIVATE ${FW_NFT_INCLUDE_DIRS})
target_link_libraries(cni_fw PRIVATE PkgConfig::FW_IPTC ${CMAKE_DL_LIBS})
