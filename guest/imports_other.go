//go:build !wasip1

package guest

// Off wasip1 there is no ward host to call. These stand in for the imports
// of imports_wasip1.go, with the same signatures, so that the SDK builds,
// vets and shows its documentation on every platform; calling any of them
// panics. internal/abi/guestsdk_test.go keeps the two files in step.

const notGuest = "ward guest functions run only in a Wasm guest (GOOS=wasip1)"

func wardSelf() int64 { panic(notGuest) }

func wardExit(code int32) { panic(notGuest) }

func wardSpawn(entryPtr, entryLen, paramsPtr, paramsCount, idPtr uint32) int32 { panic(notGuest) }

func wardSleepMs(ms int64) { panic(notGuest) }

func wardSpawnLink(entryPtr, entryLen, paramsPtr, paramsCount, idPtr uint32) int32 { panic(notGuest) }

func wardLink(pid uint64) int32 { panic(notGuest) }

func wardUnlink(pid uint64) { panic(notGuest) }

func wardTrapExit(on int32) { panic(notGuest) }

func wardMonitor(pid uint64) uint64 { panic(notGuest) }

func wardDemonitor(ref uint64) { panic(notGuest) }

func wardKill(pid uint64) int32 { panic(notGuest) }

func wardExists(pid uint64) int32 { panic(notGuest) }

func wardUpgrade(entryPtr, entryLen, statePtr, stateLen uint32) int32 { panic(notGuest) }

func wardCreateData(tag int64) { panic(notGuest) }

func wardWriteData(ptr, length uint32) int32 { panic(notGuest) }

func wardReadData(ptr, length uint32) int32 { panic(notGuest) }

func wardDataSize() int64 { panic(notGuest) }

func wardGetTag() int64 { panic(notGuest) }

func wardSender() uint64 { panic(notGuest) }

func wardUniqueTag() int64 { panic(notGuest) }

func wardSend(pid uint64) int32 { panic(notGuest) }

func wardReceive(tagsPtr, tagsCount uint32, timeoutMs int64) int32 { panic(notGuest) }

func wardTrySend(pid uint64) int32 { panic(notGuest) }

func wardTryReceive(tagsPtr, tagsCount uint32) int32 { panic(notGuest) }

func wardSendReceive(pid uint64, tagsPtr, tagsCount uint32, timeoutMs int64) int32 { panic(notGuest) }

func wardSendAfter(pid uint64, delayMs int64) int64 { panic(notGuest) }

func wardCancelTimer(timer int64) int32 { panic(notGuest) }

func wardRegister(namePtr, nameLen, versionPtr, versionLen uint32) int32 { panic(notGuest) }

func wardUnregister(namePtr, nameLen, versionPtr, versionLen uint32) int32 { panic(notGuest) }

func wardLookup(namePtr, nameLen, constraintPtr, constraintLen, idPtr uint32) int32 { panic(notGuest) }

func wardGetOrSpawn(namePtr, nameLen, versionPtr, versionLen, entryPtr, entryLen, idPtr uint32) int32 {
	panic(notGuest)
}

func wardModuleLoad(ptr, length, handlePtr uint32) int32 { panic(notGuest) }

func wardModuleSpawn(handle uint64, entryPtr, entryLen, paramsPtr, paramsCount uint32, env uint64, idPtr uint32) int32 {
	panic(notGuest)
}

func wardModuleDrop(handle uint64) int32 { panic(notGuest) }

func wardModuleTake(handle uint64) int32 { panic(notGuest) }

func wardEnvCreate(configPtr, configLen, envPtr uint32) int32 { panic(notGuest) }

func wardEnvDrop(env uint64) int32 { panic(notGuest) }

func wardMetricsCreate(kind, namePtr, nameLen, handlePtr uint32) int32 { panic(notGuest) }

func wardMetricsLabels(ptr, length, handlePtr uint32) int32 { panic(notGuest) }

func wardMetricsRecord(instrument, labels uint32, value int64) int32 { panic(notGuest) }

func wardSQLiteStepRow(stmt int32, bufPtr, bufCap, lenPtr uint32) int32 { panic(notGuest) }

func wardSQLiteRow(stmt int32, bufPtr, bufCap, lenPtr uint32) int32 { panic(notGuest) }

func wardMetricsCreateFloat(kind, namePtr, nameLen, handlePtr uint32) int32 { panic(notGuest) }

func wardMetricsRecordFloat(instrument, labels uint32, bits int64) int32 { panic(notGuest) }

func wardMetricsDrop(instrument uint32) int32 { panic(notGuest) }

func wardMetricsDropLabels(labels uint32) int32 { panic(notGuest) }

func wardNetResolve(namePtr, nameLen, bufPtr, bufCap, countPtr uint32) int32 { panic(notGuest) }

func wardNetTCPConnect(hostPtr, hostLen uint32, port, timeoutMs int32, handlePtr uint32) int32 {
	panic(notGuest)
}

func wardNetTCPListen(addrPtr, addrLen uint32, port int32, handlePtr uint32) int32 { panic(notGuest) }

func wardNetTCPAccept(listener, timeoutMs int32, handlePtr uint32) int32 { panic(notGuest) }

func wardNetLocalPort(handle int32, portPtr uint32) int32 { panic(notGuest) }

func wardNetRead(handle int32, bufPtr, bufLen uint32, timeoutMs int32, nPtr uint32) int32 {
	panic(notGuest)
}

func wardNetWrite(handle int32, bufPtr, bufLen uint32, timeoutMs int32, nPtr uint32) int32 {
	panic(notGuest)
}

func wardNetClose(handle int32) int32 { panic(notGuest) }

func wardNetUDPBind(addrPtr, addrLen uint32, port int32, handlePtr uint32) int32 { panic(notGuest) }

func wardNetUDPSendTo(handle int32, hostPtr, hostLen uint32, port int32, bufPtr, bufLen uint32) int32 {
	panic(notGuest)
}

func wardNetUDPRecvFrom(handle int32, bufPtr, bufLen uint32, timeoutMs int32, fromPtr uint32) int32 {
	panic(notGuest)
}

func wardNetTLSClient(handle int32, namePtr, nameLen uint32, timeoutMs int32) int32 { panic(notGuest) }

func wardNetTLSServer(handle, timeoutMs int32) int32 { panic(notGuest) }

func wardSQLiteOpen(pathPtr, pathLen, dbPtr uint32) int32 { panic(notGuest) }

func wardSQLiteClose(db int32) int32 { panic(notGuest) }

func wardSQLiteExec(db int32, sqlPtr, sqlLen uint32) int32 { panic(notGuest) }

func wardSQLitePrepare(db int32, sqlPtr, sqlLen, stmtPtr uint32) int32 { panic(notGuest) }

func wardSQLiteBindInt(stmt, index int32, value int64) int32 { panic(notGuest) }

func wardSQLiteBindFloat(stmt, index int32, bits int64) int32 { panic(notGuest) }

func wardSQLiteBindText(stmt, index int32, ptr, length uint32) int32 { panic(notGuest) }

func wardSQLiteBindBlob(stmt, index int32, ptr, length uint32) int32 { panic(notGuest) }

func wardSQLiteBindNull(stmt, index int32) int32 { panic(notGuest) }

func wardSQLiteStep(stmt int32, rowPtr uint32) int32 { panic(notGuest) }

func wardSQLiteColumnCount(stmt int32) int32 { panic(notGuest) }

func wardSQLiteColumnType(stmt, col int32) int32 { panic(notGuest) }

func wardSQLiteColumnInt(stmt, col int32) int64 { panic(notGuest) }

func wardSQLiteColumnFloat(stmt, col int32) int64 { panic(notGuest) }

func wardSQLiteColumnBytes(stmt, col int32, bufPtr, bufCap, lenPtr uint32) int32 { panic(notGuest) }

func wardSQLiteReset(stmt int32) int32 { panic(notGuest) }

func wardSQLiteFinalize(stmt int32) int32 { panic(notGuest) }

func wardSQLiteErrmsg(db int32, bufPtr, bufCap uint32) int32 { panic(notGuest) }
