# Installation and the Debian package (CPack DEB), for nodes that run their plugins from packages.
# `cmake --install` puts the plugins into WEFT_CNI_BIN_DIR (/opt/cni/bin, where runtimes look),
# weftd and cnitool into <prefix>/bin, the shipped configuration into <prefix>/share/weft (not
# into /etc/cni/net.d: installing a package must not switch a node's pod network; copy the
# conflist there, or run scripts/install). `cpack -G DEB` in the build tree writes
# weft_<version>_amd64.deb; its dependencies come from dpkg-shlibdeps, so a dynamic build depends
# on the libraries it links and a static (WEFT_STATIC) build's plugins need none.
install(FILES ${PROJECT_SOURCE_DIR}/conf/10-flannel.conflist ${PROJECT_SOURCE_DIR}/conf/net-conf.json
              ${PROJECT_SOURCE_DIR}/conf/kube-flannel.yml
        DESTINATION share/weft)
install(PROGRAMS ${PROJECT_SOURCE_DIR}/scripts/install DESTINATION share/weft RENAME weft-install)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME weft)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION}${WEFT_VERSION_SUFFIX})
set(CPACK_PACKAGE_CONTACT "weft maintainers <weft@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "CNI plugins (bridge, host-local, portmap, flannel), cnitool and the weftd node agent")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION net)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "iptables, nftables")
include(CPack)
