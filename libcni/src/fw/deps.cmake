# Libraries of the firewall layer (included by libcni/CMakeLists.txt): libip4tc/libip6tc for the
# legacy backend. Conntrack cleanup, the nf_tables queries and the iptables-nft rule batches speak
# netlink directly (nfnl.h, nftwrite.h), so no library is loaded for them, in either build. libnftables is loaded with dlopen only when the nftables backend
# is used, so iptables users don't pay for its dependency tree at start-up; its header comes
# from libnftables-dev.
# A static build (WEFT_STATIC) links neither: Debian has no static libiptc or libnftables, and a
# static binary cannot dlopen the host's. It drives iptables-legacy-restore and nft instead, the
# tools the reference plugins exec as well (docs/release.md, "Static plugins").
if(WEFT_STATIC)
  target_compile_definitions(cni_fw PRIVATE WEFT_STATIC=1)
  set_source_files_properties(${CMAKE_CURRENT_SOURCE_DIR}/src/fw/iptc.cpp PROPERTIES HEADER_FILE_ONLY ON)
else()
  pkg_check_modules(FW_IPTC REQUIRED IMPORTED_TARGET libip4tc libip6tc)
  pkg_check_modules(FW_NFT REQUIRED libnftables)
  target_include_directories(cni_fw PRIVATE ${FW_NFT_INCLUDE_DIRS})
  target_link_libraries(cni_fw PRIVATE PkgConfig::FW_IPTC ${CMAKE_DL_LIBS})
endif()
