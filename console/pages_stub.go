package console

func (s *Server) queuePages()     {}
func (s *Server) alertPages()     {}
func (s *Server) casePages()      {}
func (s *Server) dashboardPages() {}
func (s *Server) adminPages()     {}
