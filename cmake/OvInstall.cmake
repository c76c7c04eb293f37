# `cmake --install build` lays the service out where the systemd units and the default config
# expect it (prefix /usr/local by default):
#   bin/            ourvidz-supervisor, ourvidzctl, ourvidz-mkmodel
#   lib/ourvidz/    the worker binaries (the supervisor's bin_dir default)
#   share/ourvidz/  clip/ (CLIP merges), qwen/ (tokenizer.json.gz), enhance/ (default prompts)
#   share/doc/ourvidz/, lib/systemd/system/
#   OURVIDZ_CONFIG_DIR (default /etc/ourvidz): ourvidz.conf, job_types.conf, enhance/ — never
#   overwritten if present (an operator's edits win).
include(GNUInstallDirs)
set(OURVIDZ_CONFIG_DIR "/etc/ourvidz" CACHE PATH "where ourvidz.conf is installed")

install(TARGETS ourvidz-supervisor ourvidzctl ourvidz-mkmodel RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(kind wan sdxl qwen)
  if(TARGET ourvidz-${kind})
    install(TARGETS ourvidz-${kind} RUNTIME DESTINATION ${CMAKE_INSTALL_LIBDIR}/ourvidz)
  endif()
endforeach()
install(FILES common/text/data/bpe_simple_vocab_16e6.txt.gz common/text/data/LICENSE.clip-merges
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ourvidz/clip)
install(FILES common/text/data/qwen-tokenizer.json.gz common/text/data/LICENSE.qwen-tokenizer
        DESTINATION ${CMAKE_INSTALL_DATADIR}/ourvidz/qwen)
install(DIRECTORY config/enhance/ DESTINATION ${CMAKE_INSTALL_DATADIR}/ourvidz/enhance)
install(DIRECTORY docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(FILES systemd/ourvidz-supervisor.service systemd/ourvidz-worker@.service
        DESTINATION ${CMAKE_INSTALL_PREFIX}/lib/systemd/system)
# Config: copied only where no file exists yet.
install(CODE "
  set(dst \"\$ENV{DESTDIR}${OURVIDZ_CONFIG_DIR}\")
  file(MAKE_DIRECTORY \"\${dst}/enhance\")
  foreach(f ourvidz.conf job_types.conf enhance/video.txt enhance/image.txt enhance/enhance.conf)
    if(NOT EXISTS \"\${dst}/\${f}\")
      get_filename_component(d \"\${dst}/\${f}\" DIRECTORY)
      file(COPY \"${CMAKE_SOURCE_DIR}/config/\${f}\" DESTINATION \"\${d}\")
      message(STATUS \"Installing: \${dst}/\${f}\")
    else()
      message(STATUS \"Keeping existing: \${dst}/\${f}\")
    endif()
  endforeach()
")
